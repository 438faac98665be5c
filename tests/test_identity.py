"""One identity everywhere: Python and DuckDB hash states and split theorems identically."""

from __future__ import annotations

import json

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from prover_data.identity import normalize_statement, split_bucket, state_hash, statement_hash
from prover_data.views import sql_dir
from tests.conftest import BURNQED

EDGE_CASES = [
    "", " ", "⊢ True", "x : ℝ\n⊢ x ≤ x", "x : ℝ\r\n⊢ x ≤ x", "⊢ a\u00a0= b", "⊢ a\t=\tb",
    "e\u0301", "é", "⊢ 🙂 ∀ ε > 0", "h₀ : 0 < a\n\n⊢ a ^ 2 > 0", "⊢ " + "a + " * 50_000 + "a",
]


def _duck_hashes(texts: list[str]) -> list[bytes]:
    con = duckdb.connect()
    rows = con.execute("SELECT i, unhex(md5(s)) FROM unnest(?) WITH ORDINALITY AS u(s, i) ORDER BY i",
                       [texts]).fetchall()
    return [bytes(h) for _, h in rows]


def test_state_hash_python_equals_duckdb_on_edge_cases():
    assert _duck_hashes(EDGE_CASES) == [state_hash(s) for s in EDGE_CASES]
    assert len({state_hash(s) for s in EDGE_CASES}) == len(EDGE_CASES)  # no normalization
    assert all(len(state_hash(s)) == 16 for s in EDGE_CASES)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=200), min_size=1, max_size=20))
def test_state_hash_python_equals_duckdb_on_random_unicode(texts):
    texts = [t.replace("\x00", "") for t in texts]  # DuckDB VARCHARs are NUL-free
    assert _duck_hashes(texts) == [state_hash(s) for s in texts]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=60).map(lambda s: s.replace("\x00", "")), min_size=1, max_size=20),
       st.integers(min_value=0, max_value=10**6))
def test_split_bucket_python_equals_sql(names, seed):
    sql = (sql_dir() / "05_theorem_split.sql").read_text()
    assert "('0x' || left(md5(getvariable('split_seed') || ':' || theorem_name), 8))::UBIGINT" in sql
    con = duckdb.connect()
    got = con.execute("""SELECT ('0x' || left(md5(? || ':' || n), 8))::UBIGINT / 4294967295.0
                         FROM unnest(?) WITH ORDINALITY AS u(n, i) ORDER BY i""", [str(seed), names]).fetchall()
    assert [g[0] for g in got] == [split_bucket(seed, n) for n in names]


def test_statement_normalization_on_real_statements():
    theorems = json.loads((BURNQED / "minif2f_test.json").read_text())["theorems"]
    for t in theorems[:50]:
        s = t["statement"]
        variant = s.replace(" ", "  ").replace(", ", ",\n    ").replace(" (", "\u00a0 (")
        assert statement_hash(variant) == statement_hash(s)
        assert normalize_statement(variant) == normalize_statement(s)
    distinct = {statement_hash(t["statement"]) for t in theorems}
    assert len(distinct) == len({normalize_statement(t["statement"]) for t in theorems})
    assert statement_hash("∀ x, x = x") != statement_hash("∀ x, x = x ∧ True")
