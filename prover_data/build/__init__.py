"""How a manifest becomes a build, and what a build is on disk.

* ``stages`` -- ``build()``: build-manifest as the list of its stages (``STAGES``).
* ``inputs``, ``validation_cache`` -- the inputs read once and checked in the pass that
  loads them; inputs an earlier build validated, remembered by content hash.
* ``stats``, ``record`` -- every figure the views give; ``stats.json`` and the lock's
  outputs assembled from each stage's part.
* ``outputs``, ``views_db`` -- the datasets written with fixed bytes; ``views.duckdb``.
* ``files``, ``lock`` -- ``Build``, one build's directory and every file in it; the lock.
* ``report``, ``report_signals`` -- the Markdown report and its plots.

Importing the package imports none of them: a command that only reads a build's files
does not load the stages.
"""
