"""CLI commands, one module per area; ``COMMANDS`` is what the root group registers."""

from __future__ import annotations

import importlib

import click

# (module, attribute) of each registered command or group, in --help order.
_ENTRIES: list[tuple[str, str]] = [
    ("prover_data.commands.build", "build_manifest"),
    ("prover_data.commands.build", "query"),
    ("prover_data.commands.build", "stats"),
    ("prover_data.commands.build", "diff"),
    ("prover_data.commands.validate", "validate"),
    ("prover_data.commands.synth", "synth"),
    ("prover_data.commands.embed", "embed"),
    ("prover_data.commands.embeddings", "embeddings"),
    ("prover_data.commands.export", "export_hf"),
    ("prover_data.commands.train", "train_sft"),
    ("prover_data.commands.train", "train_dpo"),
    ("prover_data.commands.certificates", "export_certificates"),
    ("prover_data.commands.certificates", "check_certificates"),
    ("prover_data.commands.train", "train_chargpt"),
    ("prover_data.commands.train", "sample_chargpt"),
    ("prover_data.commands.train", "train_ebm"),
    ("prover_data.commands.train", "probe"),
    ("prover_data.commands.leandojo", "import_leandojo"),
    ("prover_data.commands.eval", "eval_group"),
    ("prover_data.commands.explore", "explore"),
]


def _load() -> list[click.Command]:
    out = []
    for module, attr in _ENTRIES:
        out.append(getattr(importlib.import_module(module), attr))
    return out


COMMANDS = _load()
