"""The versioned embedding store and everything that reads or fills it.

* ``store/`` -- the store: immutable versions of (state hash -> vector) per encoder
  fingerprint and dtype, tags, concurrent writers (``store/__init__.py``); its parts
  ``files`` (segments, versions), ``spaces``, ``pending`` (uncommitted segments),
  ``vector_checks`` (validation at write), ``dtypes`` (the three vector dtypes) and
  ``keys`` (state hashes as matrices, a sorted index over them).
* ``fingerprint`` -- what identifies an encoder; ``encode`` -- the Hugging Face
  mean-pooling encoder; ``embed`` -- encoding a build's missing states (local),
  ``ray_encode`` -- the same on a Ray cluster.
* ``coverage`` -- cached/missing counts for a manifest (the report's line).
* ``drift`` -- per-state cosine between two spaces (bf16 vs fp16).
* ``burnqed_import`` -- BurnQED ``embeddings.parquet`` in; ``dense`` -- a dense,
  memory-mapped matrix out, for trainers.
* ``neighbors`` -- faiss nearest neighbours: near-duplicates, hard negatives.

Heavy libraries (torch, transformers, ray, faiss) are imported only by the functions
that need them; the names below are imported on first use, so importing one module of
the package (a build's ``negative_tier``) does not import them all.
"""

import importlib

_EXPORTS = {"Coverage": "coverage", "coverage": "coverage", "DenseEmbeddings": "dense", "export_dense": "dense",
            "export_for_build": "dense", "EncoderSpec": "fingerprint", "Store": "store"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
