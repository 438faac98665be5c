"""One identity everywhere: Python and DuckDB hash states and split theorems identically.

The SQL side is exercised through the real views (``sql/``) over a real parquet
file, so the test holds whatever expression the views use to the Python functions.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from prover_data import views
from prover_data.identity import STATE_HASH_BYTES, normalize_statement, split_bucket, state_hash, statement_hash
from prover_data.manifest import load_manifest
from prover_data.schema import TRAJECTORY
from tests.conftest import BURNQED

EDGE_CASES = [
    "", " ", "⊢ True", "x : ℝ\n⊢ x ≤ x", "x : ℝ\r\n⊢ x ≤ x", "x : ℝ\n⊢ x ≤ x\n", "⊢ a\u00a0= b", "⊢ a = b",
    "⊢ a\t=\tb", "⊢ a  = b", "e\u0301", "\u00e9", "⊢ 🙂 ∀ ε > 0, ∃ δ > 0", "h₀ : 0 < a\n\n⊢ a ^ 2 > 0",
    "\ufeff⊢ p", "⊢ p\u200b", "⊢ \u2028 p", "⊢ " + "a + " * 300_000 + "a",
]

# DuckDB VARCHARs cannot hold NUL; Lean's pretty-printer never prints one.
_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=200)


_DUCK = duckdb.connect()


def _duck_hashes(texts: list[str]) -> list[bytes]:
    rows = _DUCK.execute(
        "SELECT i, unhex(md5(s)) FROM unnest(?) WITH ORDINALITY AS u(s, i) ORDER BY i", [texts]).fetchall()
    return [bytes(h) for _, h in rows]


def test_state_hash_python_equals_duckdb_on_edge_cases():
    assert _duck_hashes(EDGE_CASES) == [state_hash(s) for s in EDGE_CASES]


def test_state_hash_does_not_normalize():
    """Whitespace, line endings, Unicode normal forms: every variant is its own state."""
    hashes = [state_hash(s) for s in EDGE_CASES]
    assert len(set(hashes)) == len(EDGE_CASES)
    assert all(len(h) == STATE_HASH_BYTES for h in hashes)


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=20))
def test_state_hash_python_equals_duckdb_on_random_unicode(texts):
    assert _duck_hashes(texts) == [state_hash(s) for s in texts]


def _views_over(root: Path, names: list[str], states: list[str], seed: int) -> duckdb.DuckDBPyConnection:
    """The real views over one trajectory file holding one root node per (name, state)."""
    n = len(names)
    cols = {
        "theorem_name": names, "state_id": list(range(n)), "state_pp": states, "tactic_applied": [""] * n,
        "parent_state_id": [None] * n, "label": ["unknown"] * n, "depth_from_root": [0] * n,
        "remaining_depth": [-1] * n, "llm_log_prob": [0.0] * n, "ebm_score": [0.0] * n,
        "is_proof_complete": [False] * n, "timestamp_ms": [0] * n, "q_value": [0.0] * n, "visits": [0] * n,
    }
    pq.write_table(pa.table(cols, schema=TRAJECTORY), root / "t.parquet")
    (root / "m.toml").write_text(f'name = "identity"\n[sources]\ntrajectories = ["t.parquet"]\n'
                                 f"[split]\nseed = {seed}\nval_fraction = 0.5\n", encoding="utf-8")
    return views.connect(load_manifest(root / "m.toml"))


def test_trajectories_view_state_hash_equals_python_on_edge_cases(tmp_path):
    con = _views_over(tmp_path, [f"t{i}" for i in range(len(EDGE_CASES))], EDGE_CASES, 42)
    got = con.execute("SELECT state_pp, state_hash FROM trajectories ORDER BY file_row").fetchall()
    assert [s for s, _ in got] == EDGE_CASES
    assert [bytes(h) for _, h in got] == [state_hash(s) for s in EDGE_CASES]


@settings(max_examples=25, deadline=None)
@given(st.lists(_TEXT.filter(bool), min_size=1, max_size=12, unique=True), st.lists(_TEXT, min_size=12, max_size=12),
       st.integers(min_value=0, max_value=2**31))
def test_views_hash_and_split_like_python(names, states, seed):
    states = states[: len(names)]
    with tempfile.TemporaryDirectory() as d:
        con = _views_over(Path(d), names, states, seed)
        rows = con.execute("SELECT state_pp, state_hash FROM trajectories ORDER BY file_row").fetchall()
        assert [bytes(h) for _, h in rows] == [state_hash(s) for s in states]
        split = dict(con.execute("SELECT theorem_name, bucket FROM theorem_split").fetchall())
        assert split == {n: split_bucket(seed, n) for n in names}
        sides = dict(con.execute("SELECT theorem_name, split FROM theorem_split").fetchall())
        assert sides == {n: "val" if split_bucket(seed, n) < 0.5 else "train" for n in names}


def test_split_bucket_is_in_unit_interval_and_seeded():
    names = [f"thm_{i}" for i in range(2000)]
    buckets = [split_bucket(42, n) for n in names]
    assert all(0.0 <= b <= 1.0 for b in buckets)
    assert 0.07 < sum(b < 0.1 for b in buckets) / len(names) < 0.13  # a 10% val split is about 10%
    assert buckets != [split_bucket(43, n) for n in names]
    assert split_bucket("42", "thm_0") == split_bucket(42, "thm_0")


def _real_statements() -> list[str]:
    out = []
    for p in sorted(BURNQED.glob("*.json")):
        doc = json.loads(p.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and "theorems" in doc:
            out += [t["statement"] for t in doc["theorems"]]
    return out


def _respace(s: str) -> list[str]:
    """Whitespace-only variants of a statement, as copies of a benchmark drift."""
    return [
        s.replace(" ", "  "),
        s.replace(" ", "\u00a0"),
        s.replace(" ", "\t"),
        s.replace(", ", ",\n    "),
        s.replace("\n", "\r\n"),
        " \n" + s + "\n\n",
        s.replace(" ", " \u3000 "),
    ]


def test_statement_normalization_on_real_statements():
    statements = _real_statements()
    assert len(statements) > 15_000
    for s in statements[::25]:
        for variant in _respace(s):
            assert statement_hash(variant) == statement_hash(s), (s, variant)
            assert normalize_statement(variant) == normalize_statement(s)
    normalized = {normalize_statement(s) for s in statements}
    assert len({statement_hash(s) for s in statements}) == len(normalized)  # different statements differ


def test_statement_hash_tells_different_statements_apart():
    assert statement_hash("∀ x : ℕ, x = x") != statement_hash("∀ x : ℕ, x = x ∧ True")
    assert statement_hash("theorem a : 1 + 1 = 2") != statement_hash("theorem a : 1 + 1 = 3")
    assert normalize_statement("  ∀ x,\n\t x\u00a0=\u2003x  ") == "∀ x, x = x"
