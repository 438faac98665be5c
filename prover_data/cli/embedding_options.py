"""Options the embedding commands (``embed``, ``embeddings ...``) share."""

from __future__ import annotations

import click

from prover_data.cli.options import build_dir_option

DTYPE_CHOICE = click.Choice(["float16", "bfloat16", "float32"])

build_root_option = build_dir_option("build_root", "Builds are read from BUILD_DIR/NAME.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
model_path_option = click.option(
    "--model-path", type=click.Path(file_okay=False, exists=True), default=None,
    help="Load the encoder's weights from this folder (the fingerprint keeps the manifest's encoder name "
         "and records these weights' digest).")
