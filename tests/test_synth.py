"""The replica generator: deterministic, well-formed trees, the report's proportions."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from prover_data.identity import normalize_statement
from prover_data.schema import TRAJECTORY
from prover_data.synth import generate
from prover_data.synth.profiles import REPORT_FILES
from prover_data.synth.theorems import AUDIT_LISTS
from tests.conftest import BURNQED, run_cli


@pytest.fixture(scope="module")
def replica(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("replica") / "root"
    generate(out, scale=0.03, seed=3)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    generate(tmp_path / "a", scale=0.005, seed=11)
    generate(tmp_path / "b", scale=0.005, seed=11)
    generate(tmp_path / "c", scale=0.005, seed=12)
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert a == b
    assert a.keys() == c.keys()
    assert a["trajectories/iter_1.parquet"] != c["trajectories/iter_1.parquet"]


def test_layout_and_schema(replica):
    names = sorted(p.stem for p in (replica / "trajectories").glob("*.parquet"))
    assert names == sorted(f.name for f in REPORT_FILES)
    for p in list((replica / "trajectories").glob("*.parquet")) + list((replica / "eval").glob("*.parquet")):
        assert pq.read_schema(p).remove_metadata() == TRAJECTORY, p
    for rel in ("theorem_index.json", "held_out/train_eval.json", "leandojo/benchmark4.json",
                "benchmarks/minif2f_test.json", "configs/search.toml"):
        assert (replica / rel).is_file(), rel


def _con(replica: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"""CREATE VIEW t AS SELECT *, parse_filename(filename, true) AS f
                    FROM read_parquet('{replica}/trajectories/*.parquet', filename = true)""")
    return con


def test_tree_invariants(replica):
    con = _con(replica)
    one = lambda q: con.execute(q).fetchone()[0]  # noqa: E731
    assert one("SELECT count(*) FROM (SELECT f, theorem_name, state_id FROM t GROUP BY ALL HAVING count(*) > 1)") == 0
    assert one("SELECT count(*) FROM t WHERE (parent_state_id IS NULL) <> (depth_from_root = 0)") == 0
    # every parent exists in the same file and theorem, one level up
    assert one("""SELECT count(*) FROM t c LEFT JOIN t p
                  ON p.f = c.f AND p.theorem_name = c.theorem_name AND p.state_id = c.parent_state_id
                  WHERE c.parent_state_id IS NOT NULL
                    AND (p.state_id IS NULL OR p.depth_from_root + 1 <> c.depth_from_root)""") == 0
    # search proofs: positives form a path whose remaining_depth counts down to 0 at an
    # empty, complete state
    assert one("""SELECT count(*) FROM t c JOIN t p
                  ON p.f = c.f AND p.theorem_name = c.theorem_name AND p.state_id = c.parent_state_id
                  WHERE c.label = 'positive' AND c.f <> 'iter_1_negatives'
                    AND (p.label <> 'positive' OR p.remaining_depth <> c.remaining_depth + 1)""") == 0
    assert one("""SELECT count(*) FROM t WHERE is_proof_complete
                    AND (label <> 'positive' OR remaining_depth <> 0 OR state_pp <> '')""") == 0
    assert one("SELECT count(*) FROM t WHERE label = 'negative' AND remaining_depth <> -1") == 0
    assert one("SELECT count(*) FROM t WHERE depth_from_root = 0 AND f <> 'iter_1_negatives' AND tactic_applied <> ''") == 0


def test_report_proportions(replica):
    con = _con(replica)
    row = con.execute("""SELECT count(*), count(*) FILTER (WHERE label = 'positive'),
                            count(DISTINCT state_pp) FILTER (WHERE label IN ('positive', 'negative')),
                            count(DISTINCT theorem_name),
                            count(DISTINCT theorem_name) FILTER (WHERE label = 'positive'),
                            count(*) FILTER (WHERE label = 'unknown'),
                            count(*) FILTER (WHERE label = 'positive' AND tactic_applied LIKE '%sorry%'),
                            median(length(state_pp)) FILTER (WHERE state_pp <> '')
                     FROM t""").fetchone()
    records, positive, unique, theorems, proved, unknown, sorry, median_len = row
    assert 0.03 * 650_024 * 0.85 < records < 0.03 * 650_024 * 1.15
    assert 0.14 < positive / records < 0.22  # report: 117,850 / 650,024
    assert 0.25 < unique / records < 0.42  # report: ~217.5K / 650K
    assert 0.35 < proved / theorems < 0.55  # report: 7,277 / 15,426
    assert unknown > 0 and sorry > 0
    assert median_len >= 250  # goals of several hundred characters
    dual = con.execute("""SELECT count(*) FROM (SELECT state_pp FROM t WHERE label IN ('positive', 'negative')
                      GROUP BY 1 HAVING count(DISTINCT label) = 2)""").fetchone()[0]
    assert dual > 0
    repeated_across_files = con.execute("""SELECT count(*) FROM (SELECT state_pp FROM t GROUP BY 1
                                       HAVING count(DISTINCT f) > 1)""").fetchone()[0]
    assert repeated_across_files > 0
    per_file = dict(con.execute("SELECT f, avg((label = 'positive')::INT) FROM t GROUP BY 1").fetchall())
    assert per_file["iter_1_negatives"] > 0.7 > 0.1 > per_file["iter_2"]


def test_index_twins_and_no_audit_theorems(replica):
    index = json.loads((replica / "theorem_index.json").read_text())["theorems"]
    by_norm: dict[str, list[str]] = {}
    for t in index:
        by_norm.setdefault(normalize_statement(t["statement"]), []).append(t["statement"])
    twins = [v for v in by_norm.values() if len(set(v)) > 1]
    assert twins, "the index must hold statements that differ only by whitespace"
    assert all(len(v) == 2 for v in by_norm.values() if len(v) > 1), "only the deliberate twins may collide"

    audit = [t for f in AUDIT_LISTS for t in json.loads((BURNQED / f).read_text())["theorems"]]
    audit_names = {t["name"] for t in audit}
    audit_statements = {normalize_statement(t["statement"]) for t in audit}
    assert not audit_names & {t["name"] for t in index}
    assert not audit_statements & set(by_norm)
    con = _con(replica)
    traj_names = {r[0] for r in con.execute("SELECT DISTINCT theorem_name FROM t").fetchall()}
    assert traj_names <= {t["name"] for t in index}
    assert not traj_names & audit_names


def test_leandojo_chains_and_eval_runs(replica):
    base = json.loads((replica / "leandojo" / "benchmark4.json").read_text())
    assert sum(len(t["traced_tactics"]) for t in base) >= 0.03 * 62_000 * 0.9
    for t in base[:50]:
        tt = t["traced_tactics"]
        assert all(a["state_after"] == b["state_before"] for a, b in zip(tt, tt[1:]))
        assert tt[-1]["state_after"] == "no goals"

    con = duckdb.connect()
    runs = {}
    for cfg in ("llm_only", "ebm90"):
        path = replica / "eval" / f"eval_clean_100_{cfg}.parquet"
        ran, proved = con.execute(f"""SELECT count(DISTINCT theorem_name),
                                         count(DISTINCT theorem_name) FILTER (WHERE is_proof_complete)
                                  FROM '{path}'""").fetchone()
        runs[cfg] = (ran, proved)
    assert runs == {"llm_only": (83, 39), "ebm90": (83, 49)}

    held = {t["name"] for t in json.loads((replica / "held_out" / "train_eval.json").read_text())["theorems"]}
    held |= {r[0] for r in con.execute(f"SELECT DISTINCT theorem_name FROM '{replica}/eval/*.parquet'").fetchall()}
    assert not held & {t["full_name"] for t in base}, "held-out theorems must not be base training pairs"


def test_cli_refuses_to_overwrite_and_prints_json(tmp_path):
    out = tmp_path / "r"
    proc = run_cli("synth", str(out), "--scale", "0.002", "--no-copy-lists", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["records"] == sum(f["rows"] for f in summary["files"])
    again = run_cli("synth", str(out), "--scale", "0.002")
    assert again.returncode == 2
    assert "not empty" in again.stderr and "Traceback" not in again.stderr
