"""``prover-data eval build | audit | compare`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json

import duckdb

from tests.conftest import BURNQED, SAMPLE, run_cli
from tests.eval_fixtures import write_list, write_run


def test_eval_build_demo_is_clean_deterministic_and_audits_clean(tmp_path):
    first = run_cli("eval", "build", "demo", "--out", str(tmp_path / "a"), "--json", check=True)
    stats = json.loads(first.stdout)["sets"]["eval_clean_20"]
    out = tmp_path / "a" / "eval_clean_20.json"
    assert stats["file"] == str(out) and stats["size"] == 20
    assert stats["excluded"]["trajectories"] > 0 and stats["excluded"]["held_out:train_eval"] > 0
    assert stats["clean_pool"] == stats["pool_size"] - sum(stats["excluded"].values())
    theorems = json.loads(out.read_text(encoding="utf-8"))["theorems"]
    assert len(theorems) == 20 and set(theorems[0]) == {"name", "statement"}
    trajectory_names = {r[0] for r in duckdb.sql(
        f"SELECT DISTINCT theorem_name FROM '{(SAMPLE / 'trajectories').as_posix()}/*.parquet'").fetchall()}
    assert not {t["name"] for t in theorems} & trajectory_names

    second = run_cli("eval", "build", "demo", "--out", str(tmp_path / "b.json"), check=True)
    assert (tmp_path / "b.json").read_bytes() == out.read_bytes()
    assert "- Excluded " in second.stdout and "theorems appearing in any trajectory parquet" in second.stdout
    assert "- Clean pool: " in second.stdout and "- Median hypothesis count: " in second.stdout

    audit = run_cli("eval", "audit", str(out), "demo")
    assert audit.returncode == 0, audit.stderr
    assert "No overlap." in audit.stdout
    held = run_cli("eval", "audit", "minif2f_test", "demo", "--json")
    assert held.returncode == 0, held.stderr
    report = json.loads(held.stdout)
    assert report["clean"] and report["theorems"] == 244 and report["source"].endswith("minif2f_test.json")


def test_eval_audit_exits_2_and_names_each_overlap(tmp_path):
    index = {t["name"]: t["statement"] for t in json.loads(
        (SAMPLE / "theorem_index.json").read_text(encoding="utf-8"))["theorems"]}
    trained = sorted({r[0] for r in duckdb.sql(
        f"SELECT DISTINCT theorem_name FROM '{(SAMPLE / 'trajectories').as_posix()}/iter_1.parquet'").fetchall()}
        & set(index))
    minif2f = json.loads((BURNQED / "minif2f_test.json").read_text(encoding="utf-8"))["theorems"]
    contaminated = write_list(tmp_path / "mixed.json", [
        (minif2f[0]["name"], minif2f[0]["statement"]),
        (trained[0], "anything at all"),  # a training name
        ("renamed", "\t" + index[trained[1]].replace(" ", "\n   ") + "  "),  # a re-spaced training statement
    ])
    proc = run_cli("eval", "audit", str(contaminated), "demo", "--json")
    assert proc.returncode == 2
    overlaps = json.loads(proc.stdout)["overlaps"]
    assert [(o["row"], o["name"], o["by"]) for o in overlaps] == [(1, trained[0], "name"), (2, "renamed", "statement")]
    assert overlaps[1]["training_name"] == trained[1]
    assert f"mixed.json: row 1, column 'name': theorem '{trained[0]}' is training data" in proc.stderr
    assert f"as training theorem '{trained[1]}'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_eval_compare_markdown_json_plot_and_configs(tmp_path):
    a = write_run(tmp_path / "eval_s_llm_only.parquet", {"t1": (1, 3), "t2": (2, 9), "t3": (None, 20)})
    b = write_run(tmp_path / "eval_s_ebm90.parquet", {"t1": (1, 4), "t2": (2, 8), "t3": (8, 270)})
    cfg = tmp_path / "llm.toml"
    cfg.write_text("[search]\nalpha = 1.0\nbeta = 0.0\n", encoding="utf-8")
    proc = run_cli("eval", "compare", str(a), str(b), "--config", f"llm_only={cfg}",
                   "--config", f"ebm90={BURNQED / 'search.toml'}", "--plot", str(tmp_path / "cmp.png"))
    assert proc.returncode == 0, proc.stderr
    assert "| llm_only | 2/3 | 66.7% |" in proc.stdout and "| ebm90 | 3/3 | **100.0%** |" in proc.stdout
    assert "**ebm90 vs llm_only: +1 theorems (+33.3pp), zero regressions.**" in proc.stdout
    assert "- ebm90: 1 -- `t3` (depth 8, 270 nodes)" in proc.stdout
    assert "| `search.alpha` | `1.0` | `0.5` |" in proc.stdout
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"

    unknown = run_cli("eval", "compare", str(a), str(b), "--names", "LLM", "--names", "EBM", "--json")
    assert unknown.returncode == 0
    doc = json.loads(unknown.stdout)
    assert doc["configs"]["status"] == "unknown" and doc["configs"]["unknown"] == ["LLM", "EBM"]
    assert "UNKNOWN" in unknown.stderr and len(doc["warnings"]) == 2
    strict = run_cli("eval", "compare", str(a), str(b), "--require-configs")
    assert strict.returncode == 2 and "--require-configs" in strict.stderr
    bad = run_cli("eval", "compare", str(a), str(b), "--config", "nobody=x.toml")
    assert bad.returncode == 2 and "'nobody' names no run" in bad.stderr


def test_eval_compare_reproduces_the_reports_clean_eval_on_the_sample():
    runs = [SAMPLE / "eval" / "eval_clean_100_llm_only.parquet", SAMPLE / "eval" / "eval_clean_100_ebm90.parquet"]
    proc = run_cli("eval", "compare", *map(str, runs), "--json", check=True)
    doc = json.loads(proc.stdout)
    summary = {r["name"]: r for r in doc["runs"]}
    assert (summary["llm_only"]["proved"], summary["llm_only"]["ran"]) == (39, 83)
    assert (summary["ebm90"]["proved"], summary["ebm90"]["ran"]) == (49, 83)
    assert doc["versus_baseline"][0]["regressions"] == [] and doc["versus_baseline"][0]["net"] == 10
    deep = [(r["depth"], r["nodes"]) for r in doc["exclusive"]["ebm90"] if r["depth"] == 8]
    assert deep == [(8, 270), (8, 181)]
    assert (summary["llm_only"]["median_depth"], summary["ebm90"]["median_depth"]) == (1.0, 1.0)
    assert (summary["llm_only"]["max_depth"], summary["ebm90"]["max_depth"]) == (6, 8)


def test_eval_help_has_examples():
    for sub in ("build", "audit", "compare"):
        proc = run_cli("eval", sub, "--help", check=True)
        assert "Examples:" in proc.stdout
