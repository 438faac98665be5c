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

from prover_data.build.files import Build
from prover_data.embeddings.fingerprint import EncoderSpec
from prover_data.embeddings.manifest_encoder import manifest_encoder
from prover_data.embeddings.referenced import referenced_states
from prover_data.embeddings.store import Store
from prover_data.embeddings.store.keys import key_matrix


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


def coverage(store_path: str | Path, manifest_embeddings, state_hashes, *, encoder: EncoderSpec,
             ref: str = "HEAD") -> Coverage:
    """Cached/missing counts of ``state_hashes`` for ``encoder`` (``manifest_encoder``, or
    one with ``--model-path`` weights) in the manifest's dtype at ``ref``.

    ``store_path`` is the resolved store directory (``manifest.resolve(manifest.embeddings.store)``);
    a store that does not exist yet has every state missing.
    """
    keys = key_matrix(state_hashes)
    dtype = manifest_embeddings.dtype
    if not Store.exists(store_path):
        return Coverage(len(keys), 0, len(keys), None, dtype, None, encoder.as_dict())
    store = Store.open(store_path)
    version = store.resolve(ref)
    found = np.zeros(len(keys), bool)
    dim = None
    for space in store.select(version, encoder=encoder, dtype=dtype):
        found |= space.index.contains(keys)
        dim = space.dim
    cached = int(found.sum())
    return Coverage(len(keys), cached, len(keys) - cached, version.id if version else None, dtype, dim,
                    encoder.as_dict())


@dataclass(frozen=True)
class BuildCoverage:
    """The coverage stage's part of ``stats.json``: the report's "N uncached" line."""

    states: Coverage  # every state of the build
    referenced: Coverage  # the states the contrastive samples reference
    encoder: str  # the fingerprint looked for, described

    def figures(self) -> dict:
        """Its keys of ``stats["embeddings"]``."""
        return {"uncached": self.states.missing, "store_version": self.states.version, "encoder": self.encoder,
                "dtype": self.states.dtype, "referenced": self.referenced.total,
                "referenced_uncached": self.referenced.missing}


def build_coverage(manifest, con, staged: Build) -> BuildCoverage | None:
    """A build stage: the report's "N uncached" line, at build time, for all
    states and for the ones the samples reference (the only ones the EBM reads);
    None without an ``[embeddings]`` section.

    Counts against the store's HEAD as it is when the build runs, and names that
    version in the report: the figure is a snapshot (``prover-data embeddings status``
    gives the live one), so the store is not an input of the lock and filling it does
    not invalidate the build.
    """
    emb = manifest.embeddings
    if emb is None:
        return None
    store_path = manifest.resolve(emb.store)
    spec = manifest_encoder(manifest)
    hashes = con.sql("SELECT state_hash FROM states").to_arrow_table().column(0)
    return BuildCoverage(coverage(store_path, emb, hashes, encoder=spec),
                         coverage(store_path, emb, referenced_states(staged).keys, encoder=spec), spec.describe())
