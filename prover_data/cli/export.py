"""``export-hf``: a build as a Hugging Face Hub dataset."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from prover_data.cli.build import build_root_option, data_root_option
from prover_data.console import info, print_json, print_table, progress
from prover_data.errors import InputError


@click.command("export-hf")
@click.argument("name")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@data_root_option
@build_root_option
@click.option("--certificates", "certificates_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Add the `certificates` config from an export-certificates directory.")
@click.option("--embeddings", "embeddings_ref",
              help="Add the `embeddings` config: a store version or tag of the manifest's store.")
@click.option("--push", "repo_id", help="Upload OUT to this Hub dataset repo (needs network and a token).")
@click.option("--private", is_flag=True, help="With --push: create the repo private.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def export_hf(name: str, out: Path, data_root: Path | None, build_root: Path, certificates_dir: Path | None,
              embeddings_ref: str | None, repo_id: str | None, private: bool, as_json: bool) -> None:
    """Export NAME's build as a Hub dataset: parquet configs and a card that proves them.

    Writes OUT/data/<config>/<split>-NNNNN-of-NNNNN.parquet for the configs sft
    (with TRL's prompt and completion), contrastive, states, preferences (TRL's
    prompt/chosen/rejected), values, eval (when the build has eval sets) and, if asked,
    certificates and embeddings; and OUT/README.md, whose YAML declares configs,
    features, split sizes and license, and whose body carries the build report, the
    lock (input and SQL hashes, versions) and the rebuild command. Exporting the same
    build twice writes the same bytes. Read it back with
    datasets.load_dataset(OUT, "sft").

    \b
    Examples:
      prover-data export-hf demo /tmp/demo-hf
      prover-data export-hf iter_4 hf/iter_4 --certificates build/iter_4-certificates
      prover-data export-hf iter_4 hf/iter_4 --embeddings iter_4_fp16 --push me/prover-iter4
    """
    from prover_data.build.files import Build
    from prover_data.export import collect, push, write
    from prover_data.manifest import load_manifest

    manifest = load_manifest(name, data_root, check_files=False)
    build = Build(manifest, build_root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp:
        dense = _dense(manifest, embeddings_ref, Path(tmp) / "embeddings") if embeddings_ref else None
        configs = collect(build, certificates_dir=certificates_dir, embeddings=dense)
        with progress(quiet=as_json) as bar:
            result = write(configs, out, build=build, progress=bar)
    url = push(out, repo_id, private=private) if repo_id else None
    if as_json:
        print_json({"out": str(out), "configs": result.configs, "pushed": url})
        return
    print_table(f"exported {name} to {out}", ["config", "split", "rows"],
                [(c, s, n) for c, splits in result.configs.items() for s, n in splits.items()])
    if url:
        info(f"pushed to {url}")


def _dense(manifest, ref: str, target: Path):
    """A dense export of the store version ``ref`` into ``target`` (a scratch directory beside OUT)."""
    if manifest.embeddings is None:
        raise InputError.one(str(manifest.path), "--embeddings needs an [embeddings] section", key="embeddings")
    from prover_data.embeddings.dense import DenseEmbeddings, export_dense

    return DenseEmbeddings.open(export_dense(manifest.resolve(manifest.embeddings.store), ref, target))
