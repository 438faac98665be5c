"""CLI commands, one module per area; ``COMMANDS`` is what the root group registers."""

from __future__ import annotations

import importlib

import click

# (module, attribute) of each registered command or group, in --help order.
_ENTRIES: list[tuple[str, str]] = [
    ("prover_data.cli.build", "build_manifest"),
    ("prover_data.cli.build", "query"),
    ("prover_data.cli.build", "stats"),
    ("prover_data.cli.build", "diff"),
    ("prover_data.cli.validate", "validate"),
    ("prover_data.cli.synth", "synth"),
    ("prover_data.cli.embed", "embed"),
    ("prover_data.cli.embeddings", "embeddings"),
    ("prover_data.cli.export", "export_hf"),
    ("prover_data.cli.train", "train_sft"),
    ("prover_data.cli.train", "train_dpo"),
    ("prover_data.cli.certificates", "export_certificates"),
    ("prover_data.cli.certificates", "check_certificates"),
    ("prover_data.cli.train", "train_chargpt"),
    ("prover_data.cli.train", "sample_chargpt"),
    ("prover_data.cli.train", "train_ebm"),
    ("prover_data.cli.train", "probe"),
    ("prover_data.cli.leandojo", "import_leandojo"),
    ("prover_data.cli.eval", "eval_group"),
    ("prover_data.cli.explore", "explore"),
]


def _load() -> list[click.Command]:
    out = []
    for module, attr in _ENTRIES:
        out.append(getattr(importlib.import_module(module), attr))
    return out


COMMANDS = _load()
