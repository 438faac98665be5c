"""``embed``: encode a build's states that the embedding store does not hold yet."""

from __future__ import annotations

from pathlib import Path

import click

from prover_data.cli.embedding_options import DTYPE_CHOICE, build_root_option, json_option, model_path_option
from prover_data.cli.options import data_root_option
from prover_data.console import info, print_json, print_table, progress


@click.command("embed")
@click.argument("name")
@data_root_option
@build_root_option
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process; ray: Ray Data actors, one model per actor (per GPU).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="States per forward pass (default: embeddings.batch_size).")
@click.option("--dtype", type=DTYPE_CHOICE, default=None, help="Run the encoder in this dtype (default: embeddings.dtype).")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Encode at most N missing states (by state hash).")
@click.option("--flush-every", type=click.IntRange(min=1), default=None,
              help="Keep finished work every N batches (default: every 4,096 states); a killed run resumes from there.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@model_path_option
@click.option("--actors", type=click.IntRange(min=1), default=None, help="Ray: encoder actors (default: one per GPU, else 1).")
@click.option("--gpus-per-actor", type=click.FloatRange(min=0), default=None, help="Ray: GPUs per actor (default: 1 when the cluster has GPUs).")
@click.option("--ray-address", default=None, help="Ray: cluster address (default: $RAY_ADDRESS, else a local instance).")
@click.option("--ray-cpus", type=click.IntRange(min=1), default=None, help="Ray: CPUs of the local instance (default: all).")
@json_option
def embed(name: str, data_root: Path | None, build_root: Path, engine: str, batch_size: int | None, dtype: str | None,
          limit: int | None, flush_every: int | None, device: str, model_path: str | None, actors: int | None,
          gpus_per_actor: float | None, ray_address: str | None, ray_cpus: int | None, as_json: bool) -> None:
    """Encode the states of manifest NAME that the store does not hold yet.

    Reads BUILD_DIR/NAME/states.parquet, or before a first build the same states from
    the manifest's views (a manifest whose contrastive sampler has an embedding tier
    needs its vectors before it can build). Skips every state
    already stored for the manifest's encoder and dtype, encodes the rest with the
    Hugging Face model (mean of the last hidden state over the attention mask, as
    BurnQED's encode_embeddings.py), longest states first, and commits one new store
    version. Zero, NaN and Inf vectors are refused, naming the states. Finished
    batches are kept as they complete: after a crash or kill -9, run the same command
    again and it continues where it stopped. When every state is covered, the
    manifest's tag (embeddings.tag) moves to the new version.

    \b
    Examples:
      prover-data embed demo                               # MiniLM on the CPU
      prover-data embed iter_4 --dtype float16 --batch-size 16
      prover-data embed iter_4 --model-path models/llm/iter_3_r32 --limit 1000
      prover-data embed iter_4 --engine ray --ray-address auto   # one actor per GPU
      prover-data embed demo --json | jq .encoded
    """
    from prover_data.build.files import Build
    from prover_data.embeddings.embed import embed_build
    from prover_data.manifest import load_manifest

    manifest = load_manifest(name, data_root)
    with progress(quiet=as_json) as bar:
        result = embed_build(Build(manifest, build_root), engine=engine, dtype=dtype, batch_size=batch_size,
                             limit=limit, flush_every=flush_every, device=device, model_path=model_path, actors=actors,
                             gpus_per_actor=gpus_per_actor, ray_address=ray_address, ray_cpus=ray_cpus, progress=bar)
    if as_json:
        print_json(result.as_dict())
        return
    rate = f" ({result.encoded / result.seconds:,.1f} states/s)" if result.encoded and result.seconds else ""
    print_table(f"embed {name}: {result.dtype}, store {result.store}", ["states", "count"], [
        ("unique states in the build", result.states),
        ("already stored", result.cached_before),
        ("finished by an interrupted run", result.resumed),
        ("encoded now", result.encoded),
        ("still missing", result.missing_after),
    ])
    if result.created:
        info(f"version {result.version}: {result.added:,} vectors added in {result.seconds:.1f} s{rate}")
    else:
        info(f"nothing new; version {result.version or '(empty store)'} unchanged")
    if result.tag:
        info(f"tag {result.tag} -> {result.version}")
    if result.tag_note:
        info(result.tag_note)
