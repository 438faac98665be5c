"""How commands talk to people and to scripts.

People get rich tables and progress bars on stderr; scripts pass ``--json`` and get
one JSON document on stdout and nothing else there. Keeping both here means every
command looks the same and no command mixes progress output into its data.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

# Piped output is read by people too (CI logs, `| less`): don't squeeze tables to 80 columns.
stderr = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
stdout = Console(width=None if sys.stdout.isatty() else 160)


def print_json(obj: Any) -> None:
    """One JSON document on stdout, keys sorted, for scripts."""
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.hex()
    if hasattr(obj, "__fspath__"):
        return str(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):  # first column names the row; the rest are figures
        table.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*(_cell(v) for v in r))
    stdout.print(table)


def _cell(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@contextmanager
def progress(*, quiet: bool = False) -> Iterator[Progress]:
    """A progress display on stderr; ``quiet`` (or a non-terminal) keeps it silent."""
    p = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=quiet or not sys.stderr.isatty(),
        transient=False,
    )
    with p:
        yield p


def info(message: str) -> None:
    stderr.print(message)
