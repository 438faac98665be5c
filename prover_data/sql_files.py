"""Where the ``.sql`` files are: ``sql/`` of the source tree, or its copy in a wheel.

A module of its own because both the views (``sql/NN_name.sql``) and the input
checks (``sql/checks/``) read from it, and neither should import the other for it.
"""

from __future__ import annotations

from pathlib import Path


def sql_dir() -> Path:
    """``sql/`` of the source tree, or its copy inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_sql", here.parent / "sql"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the sql/ directory of prover-data is missing from this installation")


def sql_files() -> list[Path]:
    """The view files, in the order they are applied (file name)."""
    return sorted(sql_dir().glob("*.sql"))
