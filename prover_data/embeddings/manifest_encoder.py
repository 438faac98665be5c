"""The manifest's encoder: the one way a command or a build stage gets its fingerprint.

``fingerprint.spec_from_manifest`` computes an ``EncoderSpec`` from an ``[embeddings]``
section; which weights cache it may use and which file its problems name were chosen
anew at every call site, so two commands could hash the same weights differently or
blame different files. Here they are decided once: the cache is the store's (the store
given, else the manifest's store when it exists; a store not made yet has none and the
weights are hashed in full), and problems name the manifest.
"""

from __future__ import annotations

import os

from prover_data.embeddings.fingerprint import EncoderSpec, spec_from_manifest
from prover_data.embeddings.store import Store


def manifest_encoder(manifest, store: Store | None = None, *,
                     model_path: str | os.PathLike | None = None) -> EncoderSpec:
    """The fingerprint of ``manifest``'s ``[embeddings]`` encoder (with ``model_path``'s
    weights when the manifest names the encoder by id but they live elsewhere)."""
    emb = manifest.embeddings
    if store is None:
        path = manifest.resolve(emb.store)
        store = Store(path) if Store.exists(path) else None
    return spec_from_manifest(emb, model_path=model_path, cache_file=store.weights_cache if store else None,
                              where=str(manifest.path))
