"""Where the ``.sql`` files are: ``sql/`` of the source tree, or its copy in a wheel.

A module of its own because the views (``sql/NN_name.sql``, ``sql/stats/``), the
macros they share with the input checks (``sql/macros.sql``), the input checks
(``sql/checks/``) and the lock (which hashes them all) read from it, and none should
import another for it.
"""

from __future__ import annotations

import re
from pathlib import Path


def sql_dir() -> Path:
    """``sql/`` of the source tree, or its copy inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_sql", here.parent / "sql"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the sql/ directory of prover-data is missing from this installation")


def sql_files() -> list[Path]:
    """The view files, in the order they are applied: ``sql/NN_name.sql`` by file name,
    then the statistics views ``sql/stats/NN_name.sql`` by file name.

    A statistics view reads the views it summarises (and may read another statistics
    view, never a later one); no other view reads a statistics view, so they all come
    after the rest. Their numbers are those of the stage they summarise.
    """
    root = sql_dir()
    return sorted(root.glob("[0-9][0-9]_*.sql")) + sorted((root / "stats").glob("[0-9][0-9]_*.sql"))


MACROS = "macros.sql"  # applied before any view or check, on every connection


def define_macros(con) -> None:
    """The macros of ``sql/macros.sql`` on the DuckDB connection ``con``.

    Both the views and the input checks use them (``state_hash``, ``search_numbers``),
    so every connection that runs either defines them first: ``views.open_inputs`` and
    the one-file validator's own connection. Here because neither of those may import
    the other.
    """
    con.execute((sql_dir() / MACROS).read_text(encoding="utf-8"))


def all_sql_files() -> list[Path]:
    """Every ``.sql`` file at any depth, by path relative to ``sql/``: what the lock hashes.

    Not only the views: ``checks/`` and ``inputs/`` run in every build too, and an edit
    of either can change the outputs as surely as an edit of a view.
    """
    root = sql_dir()
    return sorted(root.rglob("*.sql"), key=lambda p: p.relative_to(root).as_posix())


def sql_steps(relative: str) -> dict[str, str]:
    """The statements of a file of named steps (``-- step: NAME`` lines), by name, in order.

    Python runs them one by one, so it can read a step's result (a count) before the next.
    """
    text = (sql_dir() / relative).read_text(encoding="utf-8")
    steps = {}
    for part in re.split(r"^-- step: ", text, flags=re.M)[1:]:
        name, _, body = part.partition("\n")
        steps[name.strip()] = "\n".join(line for line in body.splitlines()
                                        if not line.lstrip().startswith("--")).strip().rstrip(";")
    return steps
