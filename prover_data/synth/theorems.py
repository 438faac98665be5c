"""The theorem pool: real Lean Workbook statements (never an audit-list theorem), topped
up with synthetic ones, and the whitespace variants that make statement twins."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prover_data.identity import normalize_statement
from prover_data.manifest import bundled_root
from prover_data.synth.lean_text import synthetic_name, synthetic_statement
from prover_data.synth.profiles import INDEX_THEOREMS, scaled

# The real theorem lists the replica draws from, shipped with the package (data/burnqed).
BUNDLED_LISTS = bundled_root() / "data" / "burnqed"
SEED_LISTS = ("goedel_depth3.json", "goedel_depth4plus.json", "iter0_search_theorems.json")
AUDIT_LISTS = ("minif2f_test.json", "minif2f_valid.json", "minif2f_v2s_test.json",
               "minif2f_v2c_test.json", "putnam.json")


@dataclass
class TheoremPool:
    names: list[str]
    statements: list[str]


def _load_lists(names: tuple[str, ...], lists_dir: Path) -> list[dict]:
    out = []
    for n in names:
        out.extend(json.loads((lists_dir / n).read_text(encoding="utf-8"))["theorems"])
    return out


def build_index(rng: np.random.Generator, scale: float, lists_dir: Path) -> TheoremPool:
    """Real Lean Workbook theorems (never an audit-list one) topped up with synthetic ones."""
    audit = _load_lists(AUDIT_LISTS, lists_dir)
    banned_names = {t["name"] for t in audit}
    banned_statements = {normalize_statement(t["statement"]) for t in audit}
    seen: set[str] = set()
    statements: set[str] = set(banned_statements)  # no two index statements are equal up to whitespace
    real = []
    for t in _load_lists(SEED_LISTS, lists_dir):
        norm = normalize_statement(t["statement"])
        if t["name"] in seen or t["name"] in banned_names or norm in statements:
            continue
        seen.add(t["name"])
        statements.add(norm)
        real.append((t["name"], t["statement"]))
    want = scaled(INDEX_THEOREMS, scale, minimum=400)
    order = rng.permutation(len(real))
    n_real = min(len(real), int(want * 0.22))
    chosen = [real[i] for i in order[:n_real]]
    k = 0
    while len(chosen) < want:
        name = synthetic_name(rng, k)
        statement = synthetic_statement(rng, k)
        norm = normalize_statement(statement)
        if name not in seen and norm not in statements:
            seen.add(name)
            statements.add(norm)
            chosen.append((name, statement))
        k += 1
    perm = rng.permutation(len(chosen))
    chosen = [chosen[i] for i in perm]
    return TheoremPool([c[0] for c in chosen], [c[1] for c in chosen])


def whitespace_variant(statement: str, r: np.random.Generator) -> str:
    parts = statement.split(" ")
    out = parts[0]
    for p in parts[1:]:
        out += ("  ", "\n    ", " \t", " ")[int(r.integers(0, 4))] + p
    return out if out != statement else statement + " "
