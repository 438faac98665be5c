"""How many of a build's states already have a vector for the manifest's encoder and dtype.

This is the report's "217,539 unique states (dim=4096), 24 uncached" line, computed
instead of discovered at step 9,000 of EBM training. A state counts as cached when
the store version holds a vector for it whose encoder fingerprint ``matches`` the
manifest's (see ``fingerprint``) in the manifest's dtype; vectors of another dtype
(bf16 when the manifest says fp16) do not count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from prover_data.embeddings.fingerprint import EncoderSpec, spec_from_manifest
from prover_data.embeddings.keys import key_matrix
from prover_data.embeddings.referenced import referenced_states
from prover_data.embeddings.store import Store


@dataclass(frozen=True)
class Coverage:
    total: int
    cached: int
    missing: int
    version: str | None  # store version checked; None when the store is empty or absent
    dtype: str | None = None
    dim: int | None = None  # dimension of the cached vectors, when any
    encoder: dict | None = None  # the fingerprint looked for

    def as_dict(self) -> dict:
        return asdict(self)


def coverage(store_path: str | Path, manifest_embeddings, state_hashes, *, ref: str = "HEAD",
             encoder: EncoderSpec | None = None) -> Coverage:
    """Cached/missing counts of ``state_hashes`` for the manifest's encoder + dtype at ``ref``.

    ``store_path`` is the resolved store directory (``manifest.resolve(manifest.embeddings.store)``);
    a store that does not exist yet has every state missing. ``encoder`` overrides the
    fingerprint computed from the manifest (e.g. with ``--model-path`` weights).
    """
    keys = key_matrix(state_hashes)
    dtype = manifest_embeddings.dtype
    if not Store.exists(store_path):
        spec = encoder or spec_from_manifest(manifest_embeddings)
        return Coverage(len(keys), 0, len(keys), None, dtype, None, spec.as_dict())
    store = Store.open(store_path)
    spec = encoder or spec_from_manifest(manifest_embeddings, cache_file=store.weights_cache)
    version = store.resolve(ref)
    found = np.zeros(len(keys), bool)
    dim = None
    for space in store.select(version, encoder=spec, dtype=dtype):
        found |= space.index.contains(keys)
        dim = space.dim
    cached = int(found.sum())
    return Coverage(len(keys), cached, len(keys) - cached, version.id if version else None, dtype, dim, spec.as_dict())


def build_coverage(manifest, con, tmp: Path, stats: dict) -> None:
    """A build stage: the report's "N uncached" line, at build time, for all
    states and for the ones the samples reference (the only ones the EBM reads).

    Counts against the store's HEAD as it is when the build runs, and names that
    version in the report: the figure is a snapshot (``prover-data embeddings status``
    gives the live one), so the store is not an input of the lock and filling it does
    not invalidate the build.
    """
    emb = manifest.embeddings
    if emb is None:
        return
    store_path = manifest.resolve(emb.store)
    cache = Store(store_path).weights_cache if Store.exists(store_path) else None
    spec = spec_from_manifest(emb, cache_file=cache, where=str(manifest.path))
    hashes = con.sql("SELECT state_hash FROM states").to_arrow_table().column(0)
    cov = coverage(store_path, emb, hashes, encoder=spec)
    referenced = coverage(store_path, emb, referenced_states(tmp).keys, encoder=spec)
    stats["embeddings"].update(uncached=cov.missing, store_version=cov.version, encoder=spec.describe(),
                               dtype=cov.dtype, referenced=referenced.total, referenced_uncached=referenced.missing)
