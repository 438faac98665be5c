"""Theorem lists: the theorem index and benchmark or held-out lists.

The shape is BurnQED's ``{"theorems": [{"name", "statement"}, ...]}``; rows of a
problem are indices into ``theorems``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from prover_data.inputs.problems import Findings, shown
from prover_data.inputs.text_files import json_type, load_json


def read_theorem_list(path: str | Path) -> pa.Table:
    """A theorem index or benchmark list ``{"theorems": [{"name", "statement"}, ...]}``.

    Columns ``name``, ``statement`` (strings), in file order. Other top-level keys
    (Putnam's ``preamble``) and other entry keys are allowed; names must be unique and
    names and statements non-empty strings.
    """
    return theorem_table(str(path), load_json(path))


def _clean_table(entries: list) -> pa.Table | None:
    """The table of a list that breaks no rule, checked in a few passes over it (a 62K
    theorem index, three times faster than the loop that names each problem); None when
    something is wrong, for that loop to say what."""
    if not all(type(t) is dict for t in entries):
        return None
    names = [t.get("name") for t in entries]
    statements = [t.get("statement") for t in entries]
    if not all(type(v) is str and v.strip() for v in names) or not all(type(v) is str and v.strip()
                                                                          for v in statements):
        return None
    if len(set(names)) != len(names):
        return None
    return pa.table({"name": pa.array(names, pa.string()), "statement": pa.array(statements, pa.string())})


def theorem_table(name: str, doc: object) -> pa.Table:
    """The theorems of a parsed document ``doc`` read from file ``name`` (kind detection parses once)."""
    found = Findings(name)
    if not isinstance(doc, dict):
        found.whole("wrong_shape", f'expected an object {{"theorems": [...]}}, found {json_type(doc)}')
    elif "theorems" not in doc:
        keys = ", ".join(sorted(map(str, doc))[:5]) or "none"
        found.whole("wrong_shape", f'missing key "theorems" (found keys: {keys})', key="theorems")
    elif not isinstance(doc["theorems"], list):
        found.whole("wrong_shape", f'"theorems" must be a list, found {json_type(doc["theorems"])}', key="theorems")
    found.raise_if_any()
    clean = _clean_table(doc["theorems"])
    if clean is not None:
        return clean
    names, statements = [], []
    first: dict[str, int] = {}
    for i, t in enumerate(doc["theorems"]):
        if not isinstance(t, dict):
            found.rows("not_an_object", None, "expected an object with name and statement", i, json_type(t))
            continue
        good = True
        for key in ("name", "statement"):
            v = t.get(key)
            if not isinstance(v, str) or not v.strip():
                what = "missing" if key not in t else shown(v) if isinstance(v, str) else json_type(v)
                found.rows(f"bad_{key}", key, "expected a non-empty string", i, what)
                good = False
        if not good:
            continue
        if t["name"] in first:
            found.rows("duplicate_name", "name", "duplicate theorem name", i,
                       f"{shown(t['name'])} (first at row {first[t['name']]})")
            continue
        first[t["name"]] = i
        names.append(t["name"])
        statements.append(t["statement"])
    found.raise_if_any()
    return pa.table({"name": pa.array(names, pa.string()), "statement": pa.array(statements, pa.string())})
