"""Nearest neighbours of states by cosine, with faiss: near-duplicates and hard negatives.

Works on anything with the dense interface (``__len__``, ``rows``, ``gather``, and
``hashes`` sorted keys): a ``dense.DenseEmbeddings`` export or a store ``Space``.
Vectors are L2-normalized and searched by inner product, so scores are cosines.

* ``near_duplicates`` -- pairs of distinct states whose vectors are almost the same
  (cosine >= threshold). Two states the encoder cannot tell apart cannot be ranked
  apart by an EBM either; many such pairs in a positive/negative mix flag states that
  differ only in ways the encoder ignores (hypothesis names, truncation at
  ``max_length``).
* ``nearest`` -- the ``k`` nearest states of each of a few query states.
* ``hard_negatives`` -- for each anchor (a positive state), the ``k`` most similar
  states of a pool (negative states). This is an optional tier for the contrastive
  sampler: the "embedding" tier of negatives that look most like the positive, next
  to the sibling / same-theorem / random tiers. The sampler decides whether and how
  to use it; this module only answers the query deterministically (ties broken by
  row, i.e. by state hash).

``kind="flat"`` is exact (IndexFlatIP); ``kind="hnsw"`` is approximate. Its graph is
built on one thread to be reproducible, so it beats exact search only when the queries
times the indexed states are large (past about a million indexed states at the
sampler's ratio of anchors to pool; ``benchmarks/embedding_tier.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from prover_data.embeddings.store.keys import key_matrix, to_arrow
from prover_data.errors import InputError

CHUNK_ROWS = 8192


def _faiss():
    """faiss, its bundled OpenBLAS first told the CPU's kernel family when it cannot tell.

    faiss-cpu wheels bundle an OpenBLAS that picks its kernels by CPU model number. On a
    virtual machine that hides the model ("Intel(R) Xeon(R) Processor") it falls back
    to SSE3 kernels, and the exact search runs 4-5x slower than the same matrix product
    in NumPy. OpenBLAS reads ``OPENBLAS_CORETYPE`` when it loads, so it is set from the
    CPU's feature flags before the first import, unless the user has set it.
    """
    if "OPENBLAS_CORETYPE" not in os.environ:
        core = _openblas_core(Path("/proc/cpuinfo"))
        if core:
            os.environ["OPENBLAS_CORETYPE"] = core
    import faiss

    return faiss


def _openblas_core(cpuinfo: Path) -> str | None:
    """The OpenBLAS kernel family the CPU's flags allow (None: let OpenBLAS decide)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    flags = next((set(line.split(":", 1)[1].split()) for line in text.splitlines() if line.startswith("flags")), set())
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def _normalized(matrix, rows: np.ndarray) -> np.ndarray:
    v = np.ascontiguousarray(matrix.gather(rows), dtype=np.float32)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return v


def build_index(matrix, rows: np.ndarray | None = None, *, kind: str = "flat", hnsw_m: int = 32):
    """A faiss inner-product index over ``rows`` of ``matrix`` (all rows when None).

    Index ids are positions in ``rows``.
    """
    faiss = _faiss()
    rows = np.arange(len(matrix)) if rows is None else np.asarray(rows, np.int64)
    dim = matrix.dim
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
    else:
        raise InputError.one("--index", f"expected 'flat' or 'hnsw', got '{kind}'")
    # HNSW inserts in parallel build a different graph on each run; one thread builds
    # the same graph every time, so approximate answers are reproducible too.
    threads = faiss.omp_get_max_threads()
    if kind == "hnsw":
        faiss.omp_set_num_threads(1)
    try:
        for start in range(0, len(rows), CHUNK_ROWS):
            index.add(_normalized(matrix, rows[start:start + CHUNK_ROWS]))
    finally:
        faiss.omp_set_num_threads(threads)
    return index


def search(index, matrix, query_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids [n, k] into the index's rows, -1 padded; cosines [n, k]) for query rows of ``matrix``."""
    query_rows = np.asarray(query_rows, np.int64)
    ids = np.full((len(query_rows), k), -1, np.int64)
    sims = np.full((len(query_rows), k), -np.inf, np.float32)
    for start in range(0, len(query_rows), CHUNK_ROWS):
        q = _normalized(matrix, query_rows[start:start + CHUNK_ROWS])
        d, i = index.search(q, k)
        sims[start:start + len(q)], ids[start:start + len(q)] = d, i
    return ids, sims


def near_duplicates(matrix, *, threshold: float = 0.995, k: int = 10, kind: str = "flat") -> pa.Table:
    """Pairs (a_hash < b_hash) of distinct states with cosine >= threshold, most similar first."""
    index = build_index(matrix, kind=kind)
    n = len(matrix)
    ids, sims = search(index, matrix, np.arange(n), min(k + 1, n))
    a = np.repeat(np.arange(n), ids.shape[1])
    b, s = ids.reshape(-1), sims.reshape(-1)
    keep = (b >= 0) & (a != b) & (s >= threshold)
    a, b, s = a[keep], b[keep], s[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pair = lo * n + hi
    _, first = np.unique(pair, return_index=True)
    lo, hi, s = lo[first], hi[first], s[first]
    order = np.lexsort((hi, lo, -s))
    hashes = np.asarray(matrix.hashes)
    return pa.table({"a_hash": to_arrow(hashes[lo[order]]), "b_hash": to_arrow(hashes[hi[order]]),
                     "cosine": pa.array(s[order], pa.float32())})


def hard_negatives(matrix, anchors, pool, *, k: int = 7, kind: str = "flat") -> tuple[np.ndarray, np.ndarray]:
    """For each anchor hash, the ``k`` pool hashes nearest by cosine (anchor itself excluded).

    Returns (hashes uint8 [n, k, 16], cosines float32 [n, k]); a row has fewer than ``k``
    real neighbours only when the pool is that small (padded with zero hashes, cosine -inf).
    """
    anchor_keys, pool_keys = key_matrix(anchors), key_matrix(pool)
    anchor_rows, pool_rows = matrix.rows(anchor_keys), matrix.rows(pool_keys)
    index = build_index(matrix, pool_rows, kind=kind)
    want = min(k + 1, len(pool_rows))
    ids, sims = search(index, matrix, anchor_rows, want)
    neighbour_rows = np.where(ids >= 0, pool_rows[np.maximum(ids, 0)], -1)
    self_hit = neighbour_rows == anchor_rows[:, None]
    sims = np.where(self_hit | (ids < 0), -np.inf, sims)
    # drop the anchor itself, keep the best k; stable on (-cosine, row) for determinism
    order = np.lexsort((neighbour_rows, -sims), axis=1)[:, :k]
    best_rows = np.take_along_axis(neighbour_rows, order, axis=1)
    best_sims = np.take_along_axis(sims, order, axis=1)
    hashes = np.asarray(matrix.hashes)
    out = np.zeros((len(anchor_rows), best_rows.shape[1], 16), np.uint8)
    real = np.isfinite(best_sims)
    out[real] = hashes[best_rows[real]]
    return out, best_sims.astype(np.float32)


def nearest(matrix, query_rows: np.ndarray, *, k: int = 10, kind: str = "flat") -> list[list[tuple[int, float]]]:
    """For each query row, up to ``k`` (row, cosine) of the nearest other rows, nearest first."""
    query_rows = np.asarray(query_rows, np.int64)
    index = build_index(matrix, kind=kind)
    ids, sims = search(index, matrix, query_rows, min(k + 1, len(matrix)))
    return [[(int(i), float(s)) for i, s in zip(ids[qi], sims[qi]) if i >= 0 and i != query_rows[qi]][:k]
            for qi in range(len(query_rows))]


@dataclass(frozen=True)
class BuildHardNegatives:
    """``hard_negatives`` of a build: its positive states against its negative states."""

    table: pa.Table  # state_hash, neg_state_hashes (k hashes), cosines (k float32): one row per positive
    anchors: int  # positive states
    pool: int  # negative states
    k: int  # neighbours per positive (fewer than asked when the pool is that small)
    mean_cosine: float | None  # over the real neighbours; None when there are none


def build_hard_negatives(matrix, states: pa.Table, *, k: int = 7, kind: str = "flat") -> BuildHardNegatives:
    """The ``k`` nearest negative states of each positive state of a build's ``states`` table.

    ``states`` has the build's ``state_hash``, ``n_positive`` and ``n_negative`` columns.
    """
    hashes = states.column("state_hash")
    anchors = hashes.filter(pa.array(np.asarray(states.column("n_positive")) > 0))
    pool = hashes.filter(pa.array(np.asarray(states.column("n_negative")) > 0))
    nbr, sims = hard_negatives(matrix, anchors, pool, k=k, kind=kind)
    table = pa.table({
        "state_hash": anchors,
        "neg_state_hashes": pa.FixedSizeListArray.from_arrays(to_arrow(nbr.reshape(-1, 16)), nbr.shape[1]),
        "cosines": pa.FixedSizeListArray.from_arrays(pa.array(sims.reshape(-1), pa.float32()), nbr.shape[1]),
    })
    finite = sims[np.isfinite(sims)]
    return BuildHardNegatives(table=table, anchors=len(anchors), pool=len(pool), k=int(nbr.shape[1]),
                              mean_cosine=float(finite.mean()) if finite.size else None)
