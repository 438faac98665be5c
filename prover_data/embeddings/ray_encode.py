"""``prover-data embed NAME --engine ray``: the same encoder on a Ray cluster.

States (already filtered to the missing ones and sorted by length) become a Ray
Dataset; ``map_batches`` runs them through a pool of actors, each holding one model
(on one GPU each when the cluster has GPUs). Actors return vectors already cast to
the store's dtype, so fp16 travels as 2 bytes a value. The driver -- this process --
is the only writer: it validates every returned batch and adds it to the same store
writer as the local engine, so pending segments, resume after a kill and the commit
are identical.

Without ``--ray-address`` (or ``$RAY_ADDRESS``) a local Ray instance is started for the
run and stopped after it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from prover_data.embeddings.fingerprint import EncoderSpec
from prover_data.embeddings.store.dtypes import to_storage
from prover_data.embeddings.store.keys import key_matrix, to_arrow


class EncodeActor:
    """One model per actor; called with numpy batches of ``state_hash``, ``state_pp``."""

    def __init__(self, folder: str, spec: dict, dtype: str, device: str):
        from prover_data.embeddings.encode import HFEncoder

        self.encoder = HFEncoder(Path(folder), EncoderSpec.from_dict(spec), dtype, device=device)
        self.dtype = dtype

    def __call__(self, batch: dict) -> dict:
        vectors = self.encoder.encode([str(s) for s in batch["state_pp"]])
        return {"state_hash": key_matrix(batch["state_hash"]), "vector": to_storage(vectors, self.dtype),
                "state_pp": batch["state_pp"]}


def encode_with_ray(writer, folder: Path, spec: EncoderSpec, dtype: str, keys: np.ndarray, texts: list[str],
                    order: np.ndarray, *, batch_size: int, actors: int | None = None,
                    gpus_per_actor: float | None = None, address: str | None = None, num_cpus: int | None = None,
                    device: str = "auto", progress=None) -> None:
    import pyarrow as pa
    import ray

    started_here = False
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started_here = True
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        cluster_gpus = ray.cluster_resources().get("GPU", 0)
        if gpus_per_actor is None:
            gpus_per_actor = 1.0 if cluster_gpus and device != "cpu" else 0.0
        if actors is None:
            actors = max(1, int(cluster_gpus // gpus_per_actor)) if gpus_per_actor else 1
        if not gpus_per_actor:
            # CPU actors hold one CPU each for their lifetime; Ray Data's read and split
            # tasks need one more, or the pipeline waits forever.
            actors = max(1, min(actors, int(ray.cluster_resources().get("CPU", 1)) - 1))
        actor_device = device if device != "auto" else ("cuda" if gpus_per_actor else "cpu")
        table = pa.table({"state_hash": to_arrow(keys[order]), "state_pp": pa.array([texts[i] for i in order])})
        ds = ray.data.from_arrow(table).repartition(max(1, min(len(order) // batch_size, 4 * actors)))
        out = ds.map_batches(
            EncodeActor, fn_constructor_kwargs={"folder": str(folder), "spec": spec.as_dict(), "dtype": dtype,
                                                "device": actor_device},
            batch_size=batch_size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors),
            num_gpus=gpus_per_actor, num_cpus=1 if not gpus_per_actor else None)
        task = progress.add_task(f"encoding (ray, {actors} actor(s), {dtype})", total=len(order)) if progress else None
        for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
            writer.add(batch["state_hash"], np.asarray(batch["vector"]), texts=[str(s) for s in batch["state_pp"]],
                       raw=True)
            if progress:
                progress.advance(task, len(batch["state_hash"]))
    finally:
        if started_here:
            ray.shutdown()
