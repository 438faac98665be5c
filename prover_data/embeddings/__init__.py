"""The versioned embedding store and everything that reads or fills it.

* ``store`` -- the store: immutable versions of (state hash -> vector) per encoder
  fingerprint and dtype, tags, concurrent writers; its parts ``store_files``
  (segments, versions), ``spaces``, ``pending`` (uncommitted segments) and
  ``vector_checks`` (validation at write).
* ``fingerprint`` -- what identifies an encoder; ``encode`` -- the Hugging Face
  mean-pooling encoder; ``embed`` -- encoding a build's missing states (local),
  ``ray_encode`` -- the same on a Ray cluster.
* ``coverage`` -- cached/missing counts for a manifest (the report's line).
* ``drift`` -- per-state cosine between two spaces (bf16 vs fp16).
* ``burnqed_import`` -- BurnQED ``embeddings.parquet`` in; ``dense`` -- a dense,
  memory-mapped matrix out, for trainers.
* ``neighbors`` -- faiss nearest neighbours: near-duplicates, hard negatives.

Heavy libraries (torch, transformers, ray, faiss) are imported only by the functions
that need them.
"""

from prover_data.embeddings.coverage import Coverage, coverage
from prover_data.embeddings.dense import DenseEmbeddings, export_dense, export_for_build
from prover_data.embeddings.fingerprint import EncoderSpec
from prover_data.embeddings.store import Store

__all__ = ["Coverage", "coverage", "DenseEmbeddings", "export_dense", "export_for_build", "EncoderSpec", "Store"]
