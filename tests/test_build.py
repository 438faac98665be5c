"""``build-manifest``, ``query``, ``stats`` and ``diff`` through the real CLI, on the bundled sample."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from prover_data.atomic import exclusive
from prover_data.build.stages import build
from prover_data.manifest import load_manifest
from prover_data.schema import OUTPUTS
from prover_data.sql_files import all_sql_files, sql_dir
from tests.conftest import REPO, run_cli

DEMO = str(REPO / "manifests" / "demo.toml")
NUMBER = r"[\d,]+"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("build")
    return root, run_cli("build-manifest", DEMO, "--build-dir", str(root))


def _out(built) -> Path:
    return built[0] / "demo"


def test_build_prints_the_report_and_writes_every_output(built):
    root, proc = built
    assert proc.returncode == 0, proc.stderr
    assert "### Training Data Sources" in proc.stdout and "**Contrastive Sampler Stats**" in proc.stdout
    out = _out(built)
    for name, schema in OUTPUTS.items():
        assert pq.read_schema(out / f"{name}.parquet").remove_metadata().equals(schema), name
    for f in ("report.md", "stats.json", "lock.json", "views.duckdb", "plots/sft_sources.png", "plots/contrastive.png"):
        assert (out / f).is_file(), f
    assert sorted(p.name for p in root.iterdir()) == [".demo.lock", ".validated", "demo"]  # no temporaries left


def test_report_has_the_iteration_reports_rows_and_columns(built):
    text = (_out(built) / "report.md").read_text()
    stats = json.loads((_out(built) / "stats.json").read_text())
    lines = text.splitlines()
    first = lines.index("### Training Data Sources")
    assert lines[first + 1] == "- Base Mathlib tactic pairs (subsampled to 500)"
    extra = rf"(, {NUMBER} empty filtered)?(, {NUMBER} sorry)?(, {NUMBER} deduped)?\)"
    for i, f in enumerate(stats["files"]):
        noun = "usable examples" if i == 0 else "usable"
        pattern = rf"- {f['source']}\.parquet: {NUMBER} {noun} \({NUMBER} positive / {NUMBER} total{extra}"
        assert re.fullmatch(pattern, lines[first + 2 + i]), lines[first + 2 + i]
        assert lines[first + 2 + i].startswith(f"- {f['file']}: {f['usable']:,} {noun} ({f['positive']:,} positive")
    s = stats["sft"]
    assert f"- **Total trajectory**: {s['usable']:,} unique examples (filtered: {s['empty']:,} empty, " \
           f"{s['sorry']:,} sorry, {s['dup']:,} dup)" in lines
    assert f"- **Trajectory split**: {s['trajectory_train']:,} train / {s['trajectory_val']:,} val" in lines
    assert f"- **Combined training set**: {s['combined_train']:,} ({s['base_train']} base + " \
           f"{s['trajectory_train']:,} trajectory)" in lines
    c = stats["contrastive"]
    header = next(i for i, l in enumerate(lines) if l.startswith("**Contrastive Sampler Stats**"))
    assert lines[header] == (f"**Contrastive Sampler Stats** (from {c['train']['records'] + c['val']['records']:,} "
                             f"total records, {c['train']['records']:,} train / {c['val']['records']:,} val):")
    table = lines[header + 2: header + 8]
    assert table[0] == "|  | Train | Val |" and table[1] == "|---|---|---|"
    for row, key in zip(table[2:], ("eligible_theorems", "sibling_negatives", "non_sibling_negatives",
                                    "total_negatives")):
        label = {"eligible_theorems": "Eligible positives (proof-path)", "sibling_negatives": "Sibling negatives",
                 "non_sibling_negatives": "Non-sibling negatives", "total_negatives": "Total negatives"}[key]
        assert row == f"| {label} | {c['train'][key]:,} | {c['val'][key]:,} |"
    e = stats["embeddings"]
    assert e["uncached"] == e["unique_states"] and e["store_version"] is None  # no store yet: all missing
    assert (f"**Embeddings**: {e['unique_states']:,} unique states (dim=384), {e['uncached']:,} uncached (~100.00%). "
            f"The contrastive samples reference {e['referenced']:,} of them") in text
    assert 0 < e["referenced"] == e["referenced_uncached"] < e["unique_states"]  # never the empty state, for one
    assert "random 10% of *examples*" in text  # the split note says how BurnQED's split differed
    assert "disagree on" in text and "would count" in text


def test_lock_records_inputs_outputs_sql_and_versions(built):
    out = _out(built)
    text = (out / "lock.json").read_text()
    lock = json.loads(text)
    assert str(REPO) not in text and str(built[0]) not in text  # nothing machine-specific
    assert {e["path"] for e in lock["inputs"] if e["role"] == "trajectory"} == \
           {f"trajectories/{p.name}" for p in (REPO / "data" / "sample" / "trajectories").glob("*.parquet")}
    for e in lock["inputs"]:
        assert e["hash"].startswith("xxh3_128:") and e["size"] > 0, e
        assert e["rows"] is None if e["role"] == "search_config" else e["rows"] > 0, e
    assert set(lock["sql"]) == {f.relative_to(sql_dir()).as_posix() for f in all_sql_files()}
    assert {"prover-data", "duckdb", "pyarrow", "polars", "python"} <= set(lock["versions"])
    assert lock["manifest"]["file"] == "demo.toml" and lock["manifest"]["hash"].startswith("xxh3_128:")
    for name in OUTPUTS:
        assert lock["outputs"][name]["rows"] == pq.read_metadata(out / f"{name}.parquet").num_rows


def test_views_duckdb_opens_the_outputs(built):
    lock = json.loads((_out(built) / "lock.json").read_text())
    con = duckdb.connect(str(_out(built) / "views.duckdb"), read_only=True)
    for name in OUTPUTS:
        assert con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] == lock["outputs"][name]["rows"]


def test_a_moved_build_gets_views_that_point_at_its_new_place(built, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(built[0], moved)
    proc = run_cli("build-manifest", DEMO, "--build-dir", str(moved), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["up_to_date"], proc.stderr
    con = duckdb.connect(str(moved / "demo" / "views.duckdb"), read_only=True)
    sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'states'").fetchall()[0][0]
    assert str((moved / "demo").resolve()) in sql and str(built[0]) not in sql


def test_unchanged_rebuild_is_a_noop_and_force_is_byte_identical(built):
    out = _out(built)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.parquet")}
    lock = (out / "lock.json").read_bytes()
    proc = run_cli("build-manifest", DEMO, "--build-dir", str(built[0]))
    assert proc.returncode == 0 and "up to date" in proc.stderr and proc.stdout == ""
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.parquet")} == before
    proc = run_cli("build-manifest", DEMO, "--build-dir", str(built[0]), "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["up_to_date"] is False and doc["stats"]["sft"]["usable"] > 0
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == {k: v[0] for k, v in before.items()}
    assert (out / "lock.json").read_bytes() == lock


def test_bad_inputs_exit_2_with_every_problem_and_nothing_written(tmp_path):
    (tmp_path / "t.parquet").write_bytes(b"not a parquet file")
    (tmp_path / "index.json").write_text('{"theorems": [{"name": "a"}]}')
    (tmp_path / "m.toml").write_text('name = "bad"\n[sources]\ntrajectories = ["t.parquet"]\n'
                                     'theorem_index = "index.json"\n')
    proc = run_cli("build-manifest", str(tmp_path / "m.toml"), "--build-dir", str(tmp_path / "build"))
    assert proc.returncode == 2, proc.stderr
    assert "t.parquet" in proc.stderr and "index.json" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "build" / "bad").exists()
    assert [p.name for p in (tmp_path / "build").iterdir()] == [".bad.lock"]


def test_a_concurrent_build_fails_clearly_or_waits(built, tmp_path):
    root = built[0]
    with exclusive(root / ".demo.lock"):
        proc = run_cli("build-manifest", DEMO, "--build-dir", str(root))
        assert proc.returncode == 2
        assert "being written by another process" in proc.stderr and "--wait" in proc.stderr
        waiting = subprocess.Popen([sys.executable, "-m", "prover_data", "build-manifest", DEMO, "--build-dir",
                                    str(root), "--wait"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        time.sleep(1.0)
        assert waiting.poll() is None  # blocked on the lock
    _, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0 and "up to date" in err


def test_query_in_every_output_format(built, tmp_path):
    root = str(built[0])
    rows = json.loads((_out(built) / "lock.json").read_text())["outputs"]["sft_train"]["rows"]
    proc = run_cli("query", DEMO, "SELECT count(*) AS n FROM sft_train", "--build-dir", root, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"n": rows}]
    proc = run_cli("query", DEMO, "SELECT source, count(*) AS n FROM trajectories GROUP BY ALL ORDER BY source",
                   "--build-dir", root, "--csv")
    assert proc.stdout.splitlines()[0] == "source,n" and proc.stdout.splitlines()[1].startswith("iter_0,")
    proc = run_cli("query", DEMO, "SELECT split, records FROM contrastive_stats", "--build-dir", root)
    assert proc.returncode == 0 and "records" in proc.stdout and "train" in proc.stdout
    target = tmp_path / "q.parquet"
    proc = run_cli("query", DEMO, "SELECT * FROM sft_val", "--build-dir", root, "--parquet", str(target))
    assert proc.returncode == 0 and pq.read_metadata(target).num_rows > 0
    proc = run_cli("query", DEMO, "SELECT nope FROM sft_train", "--build-dir", root)
    assert proc.returncode == 2 and "nope" in proc.stderr


def test_stats_prints_the_last_builds_tables(built, tmp_path):
    proc = run_cli("stats", DEMO, "--build-dir", str(built[0]))
    assert proc.returncode == 0 and "|  | Train | Val |" in proc.stdout
    assert proc.stdout == (_out(built) / "report.md").read_text() + "\n"
    doc = json.loads(run_cli("stats", DEMO, "--build-dir", str(built[0]), "--json").stdout)
    assert doc == json.loads((_out(built) / "stats.json").read_text())
    proc = run_cli("stats", DEMO, "--build-dir", str(tmp_path))
    assert proc.returncode == 2 and "build-manifest" in proc.stderr


def test_shuffled_input_rows_give_identical_outputs_and_diff_says_metadata_only(built, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(REPO / "data" / "sample", data / "sample")
    shutil.copytree(REPO / "data" / "burnqed", data / "burnqed")
    rng = random.Random(0)
    for path in sorted((data / "sample" / "trajectories").glob("*.parquet")):
        table = pq.read_table(path)
        pq.write_table(table.take(rng.sample(range(table.num_rows), table.num_rows)), path)
    other = build(load_manifest(DEMO, data_root=data / "sample"), tmp_path / "build").out_dir
    for name in OUTPUTS:
        assert (other / f"{name}.parquet").read_bytes() == (_out(built) / f"{name}.parquet").read_bytes(), name
    proc = run_cli("diff", str(_out(built)), str(other), "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["verdict"] == "metadata only"
    assert len(d["inputs_changed"]) == 8 and not d["inputs_added"] and not d["inputs_removed"]
    assert all(d["outputs"][name]["delta"] == 0 and d["outputs"][name]["same_content"] for name in OUTPUTS)
    proc = run_cli("diff", "demo", str(other / "lock.json"), "--build-dir", str(built[0]))
    assert proc.returncode == 0 and "verdict: metadata only" in proc.stdout
