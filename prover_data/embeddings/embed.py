"""``prover-data embed NAME``: encode the states of a manifest that the store does not hold yet.

The run is: read the build's ``states`` output (before a first build, the same states
from the views); drop states the store already has for the manifest's encoder and
dtype, and states a killed earlier run already finished (its pending segments, adopted
by this run's writer); encode the rest in batches sorted by length, locally or on a
Ray cluster; commit one new version; move the manifest's tag to it when every state is
covered.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from prover_data.build.files import Build
from prover_data.embeddings.encode import batch_order
from prover_data.embeddings.fingerprint import model_folder
from prover_data.embeddings.manifest_encoder import manifest_encoder
from prover_data.embeddings.states import states_to_encode
from prover_data.embeddings.store import DEFAULT_FLUSH_ROWS, Store
from prover_data.embeddings.store.keys import key_matrix
from prover_data.errors import InputError


@dataclass
class EmbedResult:
    store: str
    engine: str
    dtype: str
    encoder: dict
    states: int  # unique states of the build
    cached_before: int  # already in the store (HEAD) for this encoder + dtype
    resumed: int  # finished by an interrupted earlier run, adopted from its pending segments
    encoded: int  # encoded by this run
    added: int  # rows the new version added
    missing_after: int  # states of the build still without a vector
    version: str | None
    created: bool
    tag: str | None
    tag_note: str | None
    seconds: float
    load_seconds: float  # of ``seconds``, loading the model in this process (0 with Ray: its actors load it)

    def as_dict(self) -> dict:
        return asdict(self)


def embeddings_section(manifest):
    if manifest.embeddings is None:
        raise InputError.one(str(manifest.path), "no [embeddings] table: say which store, encoder and dtype to use",
                             key="embeddings")
    return manifest.embeddings


def embed_build(build: Build, *, engine: str = "local", dtype: str | None = None,
                batch_size: int | None = None, limit: int | None = None, flush_every: int | None = None,
                device: str = "auto", model_path: str | None = None, actors: int | None = None,
                gpus_per_actor: float | None = None, ray_address: str | None = None, ray_cpus: int | None = None,
                progress=None) -> EmbedResult:
    manifest = build.manifest
    emb = embeddings_section(manifest)
    dtype = dtype or emb.dtype
    batch_size = batch_size or emb.batch_size
    if batch_size < 1:
        raise InputError.one("--batch-size", f"expected a positive batch size, got {batch_size}")
    started = time.perf_counter()
    store = Store.open(manifest.resolve(emb.store), create=True)
    folder = model_folder(emb, model_path, where=str(manifest.path))
    spec = manifest_encoder(manifest, store, model_path=model_path)
    states = states_to_encode(build)
    keys = key_matrix(states.column("state_hash"))
    flush_rows = flush_every * batch_size if flush_every else DEFAULT_FLUSH_ROWS
    cached = store.contains(keys, spec, dtype)
    with store.writer(spec, dtype, expected_dim=emb.dim, flush_rows=flush_rows,
                      source=f"encoder {spec.model} ({dtype})") as writer:
        pending = writer.contains(keys) & ~cached
        todo = np.flatnonzero(~cached & ~pending)
        if limit is not None:
            todo = todo[:limit]  # states.parquet is sorted by hash: a content-keyed choice
        texts = states.column("state_pp").take(todo).to_pylist()
        todo_keys = keys[todo]
        order = batch_order(texts, todo_keys, spec.prompt)
        load_seconds = 0.0
        if len(todo):
            if engine == "ray":
                from prover_data.embeddings.ray_encode import encode_with_ray

                encode_with_ray(writer, folder, spec, dtype, todo_keys, texts, order, batch_size=batch_size,
                                actors=actors, gpus_per_actor=gpus_per_actor, address=ray_address,
                                num_cpus=ray_cpus, device=device, progress=progress)
            else:
                load_seconds = _encode_local(writer, folder, spec, dtype, todo_keys, texts, order,
                                             batch_size=batch_size, expected_dim=emb.dim, device=device,
                                             progress=progress)
        result = writer.commit(f"embed {manifest.name}: {len(todo):,} states encoded ({engine}, {dtype})")
    version = result.version
    missing_after = int((~store.contains(keys, spec, dtype)).sum())
    tag, tag_note = None, None
    if emb.tag and version is not None:
        if dtype != emb.dtype:
            tag_note = f"tag '{emb.tag}' not moved: this run's dtype {dtype} is not the manifest's {emb.dtype}"
        elif missing_after:
            tag_note = f"tag '{emb.tag}' not moved: {missing_after:,} states still have no vector"
        else:
            try:
                store.set_tag(emb.tag, version.id)
                tag = emb.tag
            except InputError as e:
                tag_note = str(e.problems[0].message)
    return EmbedResult(store=str(store.path), engine=engine, dtype=dtype, encoder=spec.as_dict(), states=len(keys),
                       cached_before=int(cached.sum()), resumed=int(pending.sum()), encoded=len(todo),
                       added=result.added_rows, missing_after=missing_after, version=version.id if version else None,
                       created=result.created, tag=tag, tag_note=tag_note,
                       seconds=round(time.perf_counter() - started, 3), load_seconds=round(load_seconds, 3))


def _encode_local(writer, folder, spec, dtype, keys, texts, order, *, batch_size, expected_dim, device,
                  progress) -> float:
    """Encode ``texts`` in ``order`` into ``writer``; the seconds spent loading the model."""
    from prover_data.embeddings.encode import HFEncoder

    started = time.perf_counter()
    encoder = HFEncoder(folder, spec, dtype, device=device)
    load_seconds = time.perf_counter() - started
    if expected_dim is not None and encoder.dim != expected_dim:
        raise InputError.one(str(folder), f"the model's hidden size is {encoder.dim}, but the manifest says "
                                          f"embeddings.dim = {expected_dim}")
    task = progress.add_task(f"encoding ({encoder.device}, {dtype})", total=len(order)) if progress else None
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    batch_texts = [[texts[i] for i in idx] for idx in batches]
    for idx, batch, vectors in zip(batches, batch_texts, encoder.encode_batches(batch_texts)):
        writer.add(keys[idx], vectors, texts=batch)
        if progress:
            progress.advance(task, len(idx))
    return load_seconds
