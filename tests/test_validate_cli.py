"""``prover-data validate`` in a real subprocess: every problem reported, exit 2, never a traceback."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.bad_inputs import CASES, GOOD_LEANDOJO, valid_trajectory, write_trajectory
from tests.conftest import BURNQED, SAMPLE, run_cli


def test_every_bad_input_is_reported_in_one_run(tmp_path):
    paths = []
    for i, case in enumerate(CASES):
        d = tmp_path / f"case{i:02d}"
        d.mkdir()
        paths.append(case.make(d / f"input{case.suffix}"))
    proc = run_cli("validate", *map(str, paths), "--json")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert (report["files_checked"], report["with_problems"], report["clean"]) == (len(CASES), len(CASES), 0)
    by_path = {f["path"]: f for f in report["files"]}
    for case, path in zip(CASES, paths):
        f = by_path[str(path)]
        assert not f["ok"] and f["problems"] and f["rows"] is None, case.name
        assert all(p["file"] == str(path) or p["key"] for p in f["problems"]), case.name
        if case.reader is None:  # what validate detects is the reader the case is about
            hits = [p for p in f["problems"] if case.expect in p["message"]]
            assert hits, (case.name, f["problems"])
            if case.where is not None:
                assert any(case.where in (p["column"], p["key"]) for p in hits), case.name
            if case.row is not None:
                assert any(p["row"] == case.row for p in hits), case.name
        assert sum(f["by_rule"].values()) == sum(p["count"] for p in f["problems"])


def _leandojo(path):
    path.write_text(json.dumps([GOOD_LEANDOJO, {**GOOD_LEANDOJO, "traced_tactics": "simp"}]))
    return path


def _ragged(path):
    pq.write_table(pa.table({"state_pp": ["⊢ a", "⊢ b"], "embedding": [[0.1, 0.2], [0.3]]}), path)
    return path


def _text(content: str):
    def make(path):
        path.write_text(content, encoding="utf-8")
        return path
    return make


def _label(path):
    cols = valid_trajectory()
    cols["label"][3] = "Positive"
    return write_trajectory(path, cols)


ONE_PER_KIND = [
    ("trajectory", "t.parquet", _label, "row 3, column 'label': unknown label"),
    ("theorem_list", "l.json",
     _text('{"theorems": [{"name": "a", "statement": "s"}, {"name": "a", "statement": "t"}]}'),
     "row 1, column 'name': duplicate theorem name; found 'a' (first at row 0)"),
    ("leandojo", "b.json", _leandojo, "row 1, column 'traced_tactics': expected a list of traced tactics; found a string"),
    ("burnqed_embeddings", "e.parquet", _ragged, "row 1, column 'embedding': ragged vectors"),
    ("whole_proofs", "w.json", _text('{"thm": {"0.9": "intro x"}}'),
     "row 0: expected a list of proof strings"),
    ("search_config", "s.toml", _text("[search]\nmax_depth = true\n"),
     "key 'search.max_depth': expected a number, found True"),
    ("manifest", "m.toml", _text('name = "m"\n[sources]\ntrajectories = []\n'),
     "key 'sources.trajectories': expected at least one trajectory file"),
]


@pytest.mark.parametrize("kind,name,make,line", ONE_PER_KIND, ids=[k[0] for k in ONE_PER_KIND])
def test_each_kind_fails_with_exit_2_and_a_readable_report(tmp_path, kind, name, make, line):
    path = make(tmp_path / name)
    proc = run_cli("validate", str(path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"{path}: {kind}, 1 problem(s)" in proc.stderr
    assert f"  {line}" in proc.stderr, proc.stderr
    assert "by rule: " in proc.stderr
    assert re.search(rf"{re.escape(path.name)}.*{kind}.*1 problem", proc.stdout), proc.stdout  # the summary table


def test_bundled_sample_and_real_files_validate_clean():
    proc = run_cli("validate", str(SAMPLE), str(BURNQED), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["with_problems"] == 0 and report["files_checked"] >= 23
    kinds = {f["path"].rsplit("/", 1)[-1]: f["kind"] for f in report["files"]}
    assert kinds["search.toml"] == "search_config" and kinds["3thm_diversity_test_iter0_mid.json"] == "whole_proofs"
    assert sum(f["rows"] for f in report["files"] if f["kind"] == "trajectory") > 10_000


def test_text_report_of_clean_files(tmp_path):
    path = write_trajectory(tmp_path / "t.parquet", valid_trajectory())
    proc = run_cli("validate", str(path), str(BURNQED / "minif2f_test.json"))
    assert proc.returncode == 0 and proc.stderr == ""
    assert "2 file(s): 2 clean, 0 with problems" in proc.stdout
    assert re.search(r"t\.parquet\s*│\s*trajectory\s*│\s*6\s*│\s*ok", proc.stdout), proc.stdout
    assert re.search(r"minif2f_test\.json\s*│\s*theorem_list\s*│\s*244\s*│\s*ok", proc.stdout), proc.stdout


def test_directories_skip_hidden_files_and_empty_ones_are_problems(tmp_path):
    (tmp_path / "d").mkdir()
    write_trajectory(tmp_path / "d" / "t.parquet", valid_trajectory())
    (tmp_path / "d" / ".t.parquet.tmp-1-abc").write_bytes(b"half a write")  # an atomic-write temporary
    (tmp_path / "d" / "notes.txt").write_text("not an input")
    (tmp_path / "empty").mkdir()
    proc = run_cli("validate", str(tmp_path / "d"), "--json")
    assert proc.returncode == 0, proc.stdout
    assert [f["path"] for f in json.loads(proc.stdout)["files"]] == [str(tmp_path / "d" / "t.parquet")]
    proc = run_cli("validate", str(tmp_path / "empty"))
    assert proc.returncode == 2 and "no input files here" in proc.stderr


def test_missing_path_and_unknown_kind(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n")
    proc = run_cli("validate", str(tmp_path / "nope.parquet"), str(tmp_path / "x.csv"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{tmp_path / 'nope.parquet'}: unknown, 1 problem(s)\n  no such file" in proc.stderr
    assert "unknown input kind (expected a .parquet, .json or .toml file, found '.csv')" in proc.stderr


def test_max_problems_limits_printed_lines_not_counts(tmp_path):
    cols = valid_trajectory()
    cols["label"] = ["?", "positive", "?", "negative", "?", "negative"]
    cols["llm_log_prob"][1] = float("nan")
    path = write_trajectory(tmp_path / "t.parquet", cols)
    proc = run_cli("validate", str(path), "--max-problems", "2")
    assert proc.returncode == 2
    assert "... and 2 more problems not shown (2 rows) (raise --max-problems to see them)" in proc.stderr
    assert "by rule: unknown_label (label): 3; not_finite (llm_log_prob): 1" in proc.stderr
    full = json.loads(run_cli("validate", str(path), "--max-problems", "2", "--json").stdout)
    assert len(full["files"][0]["problems"]) == 4  # --json always carries every problem


def test_help_has_examples():
    proc = run_cli("validate", "--help")
    assert proc.returncode == 0
    assert "Examples:\n    prover-data validate data/sample data/burnqed" in proc.stdout
    assert "--max-problems" in proc.stdout and "--json" in proc.stdout
