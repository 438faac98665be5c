"""Problems of one input file, collected rule by rule and reported in row runs.

Every reader checks the whole file and raises one ``InputError`` with every problem
(see ``prover_data.inputs``). A rule broken in many rows would bury the others, so
row problems of one rule and column are merged into runs of consecutive rows; the
first ``RUNS_SHOWN`` runs are named and the rest counted in one more problem.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from prover_data.errors import InputError, Problem

RUNS_SHOWN = 5  # row runs named per broken rule; the rest are counted in one more line
_SHOWN_CHARS = 80


class Findings:
    """Problems of one file, grouped by rule.

    Row problems of one rule and column are merged into runs of consecutive rows;
    the first ``RUNS_SHOWN`` runs are named and the rest counted in one more problem.
    """

    def __init__(self, file: str):
        self.file = file
        self._groups: dict[tuple[str, str | None], dict] = {}
        self._whole: list[Problem] = []

    def __bool__(self) -> bool:
        return bool(self._groups or self._whole)

    def rows(self, check: str, column: str | None, message: str, rows,
             found: str | Callable[[int], str] | None = None) -> None:
        """Rows (an int or an array of ints) that break ``check`` in ``column``.

        ``found`` describes the offending value of the first row (a callable gets that row).
        """
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if rows.size == 0:
            return
        g = self._groups.get((check, column))
        if g is None:
            g = self._groups[(check, column)] = {"message": message, "parts": [], "found": found}
        g["parts"].append(rows)

    def whole(self, check: str, message: str, **where) -> None:
        """A problem of the file (or of a key) rather than of rows."""
        self._whole.append(Problem(self.file, message, check=check, **where))

    def problems(self) -> list[Problem]:
        out = list(self._whole)
        for (check, column), g in self._groups.items():
            rows = np.unique(np.concatenate(g["parts"]))
            found = g["found"](int(rows[0])) if callable(g["found"]) else g["found"]
            out += _runs(self.file, check, column, g["message"], rows, found)
        return out

    def raise_if_any(self) -> None:
        if self:
            raise InputError(self.problems())


def _runs(file: str, check: str, column: str | None, message: str, rows: np.ndarray,
          found: str | None) -> list[Problem]:
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = rows[np.r_[0, breaks + 1]]
    ends = rows[np.r_[breaks, rows.size - 1]]
    out = []
    for i, (s, e) in enumerate(zip(starts[:RUNS_SHOWN].tolist(), ends[:RUNS_SHOWN].tolist())):
        text = f"{message}; found {found}" if i == 0 and found is not None else message
        out.append(Problem(file, text, row=s, row_end=e if e != s else None, column=column,
                           count=e - s + 1, check=check))
    if starts.size > RUNS_SHOWN:
        named = int((ends[:RUNS_SHOWN] - starts[:RUNS_SHOWN] + 1).sum())
        more = starts.size - RUNS_SHOWN
        out.append(Problem(file, f"{message}; {more:,} more row range{'s' if more > 1 else ''} like this, "
                                 f"the last ending at row {int(rows[-1]):,}",
                           row=int(starts[RUNS_SHOWN]), column=column, count=rows.size - named, check=check))
    return out


def shown(value: object) -> str:
    """A value as a message shows it: repr, cut to a readable length."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="backslashreplace")
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 4] + "...'"
