"""Options several commands share, so each reads and explains the same way everywhere."""

from __future__ import annotations

from pathlib import Path

import click

data_root_option = click.option(
    "--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where the manifest's [sources] paths live (default: $PROVER_DATA_ROOT, else the manifest's data_root).")


def build_dir_option(dest: str = "build_root", help: str = "Builds are read from BUILD_DIR/NAME, as build-manifest "
                                                                "writes them."):
    """``--build-dir``, passed to the command as ``dest``."""
    return click.option("--build-dir", dest, type=click.Path(file_okay=False, path_type=Path), default=Path("build"),
                        show_default=True, help=help)


missing_option = click.option(
    "--missing", type=click.Choice(["refuse", "skip"]), default=None,
    help="States the contrastive samples reference that have no vector: refuse (stop, naming them) or skip "
         "(use what exists; the EBM drops a sample whose positive has none and refills a negative from its "
         "tier's pool).  [default: the manifest's embeddings.missing]")
