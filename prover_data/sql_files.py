"""Where the ``.sql`` files are: ``sql/`` of the source tree, or its copy in a wheel.

A module of its own because both the views (``sql/NN_name.sql``) and the input
checks (``sql/checks/``) read from it, and neither should import the other for it.
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
    """The view files, in the order they are applied (file name)."""
    return sorted(sql_dir().glob("*.sql"))


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
