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
]


def _load() -> list[click.Command]:
    out = []
    for module, attr in _ENTRIES:
        out.append(getattr(importlib.import_module(module), attr))
    return out


COMMANDS = _load()
