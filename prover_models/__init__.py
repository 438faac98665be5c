"""Thin trainers over prover-data build outputs.

Each trainer reads a manifest's ``[train.*]`` section and the files a build wrote
(through the Dataset adapters in ``data.py``), and nothing else: the data decisions
live in the build, so a training run is reproducible from the manifest, the build's
lock and the trainer's seed.
"""
