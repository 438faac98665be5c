"""Errors about the user's inputs, as opposed to bugs in this package.

A bad input must be reported so a person can fix it without reading a traceback: the
file, the row (or row range) and the column or manifest key, what was expected and
what was found. ``Problem`` is one such finding; ``InputError`` carries one or more
of them. The CLI prints every problem of an ``InputError`` and exits with status 2;
any other exception is an internal error (status 1).

Rows are 0-based indices into the file, as DuckDB's ``file_row_number`` and Arrow
count them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input."""

    file: str
    message: str
    row: int | None = None
    row_end: int | None = None  # inclusive; set when a run of rows shares the problem
    column: str | None = None
    key: str | None = None  # manifest key (dotted), for manifest problems
    count: int = 1  # rows affected, when more than the ones named
    check: str | None = None  # short name of the rule broken (``missing_parent``), for counting by class

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            if self.row_end is not None and self.row_end != self.row:
                where.append(f"rows {self.row}-{self.row_end}")
            else:
                where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.key is not None:
            where.append(f"key '{self.key}'")
        text = f"{': '.join([where[0], ', '.join(where[1:])]) if len(where) > 1 else where[0]}: {self.message}"
        if self.count > 1:
            text += f" ({self.count:,} rows)"
        return text


@dataclass
class InputError(Exception):
    """A user input is wrong; carries every problem found (at least one)."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.problems:
            raise ValueError("InputError needs at least one Problem")
        super().__init__(str(self))

    @classmethod
    def one(cls, file: str, message: str, **where) -> "InputError":
        return cls([Problem(str(file), message, **where)])

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


def rule(problem: Problem) -> str:
    """The rule a problem breaks, as lists count them: ``unknown_label (label)``."""
    where = problem.column or problem.key
    return (problem.check or "problem") + (f" ({where})" if where else "")


def tally(problems: list[Problem]) -> dict[str, int]:
    """Rows (or occurrences) per rule, counted in full: a problem naming a run of rows
    counts every row of it, so the totals stay true however few problems are shown."""
    out: dict[str, int] = {}
    for p in problems:
        out[rule(p)] = out.get(rule(p), 0) + p.count
    return out


def tally_line(problems: list[Problem] | dict[str, int]) -> str:
    """``1,770 rows zero_vector; 1 row inf_vector``: every rule and its true count (of
    problems, or of a ``tally`` already made)."""
    counts = problems if isinstance(problems, dict) else tally(problems)
    return "; ".join(f"{n:,} {'row' if n == 1 else 'rows'} {r}" for r, n in counts.items())


def cut_line(problems: list[Problem], shown: int) -> str | None:
    """What a list cut after ``shown`` problems left out, counted in problems and in rows."""
    hidden = problems[shown:]
    if not hidden:
        return None
    rows = sum(p.count for p in hidden)
    return (f"... and {len(hidden):,} more problem{'s' if len(hidden) > 1 else ''} not shown "
            f"({rows:,} row{'s' if rows > 1 else ''})")
