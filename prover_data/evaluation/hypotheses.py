"""Hypothesis count of a theorem statement, for the eval sets' report line.

The report's "Median hypothesis count" of an eval set counts the lines a theorem's
root goal state shows above ``⊢`` -- which is what BurnQED's analysis scripts count --
read off the statement: each binder group of its leading ``∀`` telescope(s)
counts one (``(x y : ℝ)``, ``{α : Type*}``, ``[inst : Field α]``, ``⦃x : α⦄``; an
unbracketed ``x y : ℝ`` group also one; a binder predicate ``ε > 0`` adds one more
for its hypothesis), up to the comma that ends the telescope; a chain ``∀ …, ∀ …,``
continues the count. Premises of implications after the comma, and statements that do
not start with ``∀``, add nothing: ``∀ (x y z w : ℕ) (ht : 1 < x) (hw : 0 ≤ w), P``
has 3 and ``¬∃ x, P x`` has 0.
"""

from __future__ import annotations

import statistics
from typing import Iterable

_CLOSE = {"(": ")", "{": "}", "[": "]", "⦃": "⦄", "⟨": "⟩"}
_CLOSERS = set(_CLOSE.values())
_BINDER_PREDICATES = (">", "<", "≥", "≤", "≠", "∈", "∉", "⊆", "⊂", "⊇", "⊃")


def _matching(s: str, i: int) -> int | None:
    """Index of the bracket closing the one at ``i`` (any bracket kind nests), or None."""
    depth = 0
    for j in range(i, len(s)):
        c = s[j]
        if c in _CLOSE:
            depth += 1
        elif c in _CLOSERS:
            depth -= 1
            if depth == 0:
                return j
    return None


def _section_end(s: str, i: int) -> tuple[int, str] | None:
    """End of an unbracketed binder section starting at ``i``: (index, what ends it).

    It ends at the top-level comma, or at a top-level opening bracket when no ``:`` has
    been seen yet (``∀ x (h : P x), …``); after a ``:`` brackets belong to the type.
    """
    depth = 0
    colon = False
    for j in range(i, len(s)):
        c = s[j]
        if c in _CLOSE:
            if depth == 0 and not colon and j > i and s[j - 1].isspace():
                return j, "bracket"
            depth += 1
        elif c in _CLOSERS:
            depth -= 1
        elif depth == 0 and c == ":":
            colon = True
        elif depth == 0 and c == ",":
            return j, "comma"
    return None


def hypothesis_count(statement: str) -> int:
    """Hypothesis lines of the statement's root goal state (see the module docstring)."""
    s = statement.strip()
    count = 0
    while s.startswith("∀"):
        i, groups = 1, 0
        while True:
            while i < len(s) and s[i].isspace():
                i += 1
            if i >= len(s):
                return count  # no comma ends the telescope: not a ∀ statement we can read
            if s[i] == ",":
                i += 1
                break
            if s[i] in _CLOSE:
                j = _matching(s, i)
                if j is None:
                    return count
                groups += 1
                i = j + 1
                continue
            end = _section_end(s, i)
            if end is None:
                return count
            j, stop = end
            section = s[i:j]
            groups += 1 + (":" not in section and any(p in section for p in _BINDER_PREDICATES))
            i = j if stop == "bracket" else j + 1
            if stop == "comma":
                break
        count += groups
        s = s[i:].lstrip()
    return count


def median_hypotheses(statements: Iterable[str]) -> float | None:
    """The median ``hypothesis_count`` of ``statements`` (None for none)."""
    counts = [hypothesis_count(s) for s in statements]
    return float(statistics.median(counts)) if counts else None
