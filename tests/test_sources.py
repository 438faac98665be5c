"""Validated readers: real files are accepted, every class of bad input is named precisely."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from prover_data.errors import InputError
from prover_data.sources import (
    check_trajectory_file,
    iter_burnqed_embeddings,
    read_leandojo,
    read_search_config,
    read_theorem_list,
    validate_path,
)
from tests.bad_inputs import CASES, GOOD_LEANDOJO, valid_trajectory, write_trajectory
from tests.conftest import BURNQED, SAMPLE, run_cli


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_bad_input_is_named(case, tmp_path):
    path = case.make(tmp_path / f"input{case.suffix}")
    kind, rows, problems = validate_path(path)
    assert problems, f"{case.name} was accepted as {kind}"
    hits = [p for p in problems if case.expect in p.message]
    assert hits, f"{case.name}: no problem says {case.expect!r}: {[str(p) for p in problems]}"
    assert all(p.file for p in problems)
    if case.where is not None:
        assert any(case.where in (p.column, p.key) for p in hits), [str(p) for p in hits]


def test_cli_reports_every_bad_file_and_exits_2(tmp_path):
    paths = []
    for i, case in enumerate(CASES):
        d = tmp_path / f"case{i:02d}"
        d.mkdir()
        paths.append(case.make(d / f"input{case.suffix}"))
    proc = run_cli("validate", *map(str, paths), "--json")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["with_problems"] == len(CASES)
    by_path = {f["path"]: f for f in report["files"]}
    for case, path in zip(CASES, paths):
        assert any(case.expect in p["message"] for p in by_path[str(path)]["problems"]), case.name


def test_problem_lines_name_file_row_and_column(tmp_path):
    cols = valid_trajectory()
    cols["label"][2] = "maybe"
    path = write_trajectory(tmp_path / "t.parquet", cols)
    with pytest.raises(InputError) as e:
        check_trajectory_file(path)
    line = str(e.value)
    assert str(path) in line and "row 2" in line and "column 'label'" in line and "'maybe'" in line


def test_all_problems_reported_not_only_the_first(tmp_path):
    cols = valid_trajectory()
    cols["label"][2] = "maybe"
    cols["remaining_depth"][4] = -9
    cols["parent_state_id"][5] = 77
    path = write_trajectory(tmp_path / "t.parquet", cols)
    with pytest.raises(InputError) as e:
        check_trajectory_file(path)
    columns = {p.column for p in e.value.problems}
    assert {"label", "remaining_depth", "parent_state_id"} <= columns


def test_consecutive_bad_rows_become_a_range(tmp_path):
    cols = valid_trajectory()
    for r in (1, 2, 3):
        cols["label"][r] = "?"
    path = write_trajectory(tmp_path / "t.parquet", cols)
    _, _, problems = validate_path(path)
    (p,) = problems
    assert (p.row, p.row_end, p.count) == (1, 3, 3)
    assert "rows 1-3" in str(p)


def test_compatible_integer_widths_accepted(tmp_path):
    schema = pa.schema([pa.field(f.name, pa.int64(), f.nullable) if pa.types.is_integer(f.type) else f
                        for f in __import__("prover_data.schema").schema.TRAJECTORY])
    path = write_trajectory(tmp_path / "t.parquet", valid_trajectory(), schema)
    info = check_trajectory_file(path)
    assert (info.rows, info.theorems, info.positives, info.negatives) == (6, 2, 3, 3)


def test_bundled_sample_and_real_lists_are_clean():
    for path in sorted(SAMPLE.rglob("*")):
        if path.suffix in (".parquet", ".json"):
            kind, rows, problems = validate_path(path)
            assert not problems, (path, problems)
            assert rows
    for path in sorted(BURNQED.iterdir()):
        kind, rows, problems = validate_path(path)
        assert not problems, (path, problems)


def test_real_theorem_lists_read():
    putnam = read_theorem_list(BURNQED / "putnam.json")  # has an extra "preamble" key
    assert putnam.num_rows == 672 and putnam.column_names == ["name", "statement"]
    assert read_theorem_list(BURNQED / "minif2f_test.json").num_rows == 244
    assert "max_depth" in read_search_config(BURNQED / "search.toml")["search"]


def test_leandojo_reader_pairs_state_before_with_tactic(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps([GOOD_LEANDOJO]))
    t = read_leandojo(path)
    assert t.to_pylist() == [{"theorem_name": "Nat.foo", "file_path": "Mathlib/Foo.lean", "tactic_index": 0,
                              "state_pp": "⊢ x + 0 = x", "tactic": "simp", "state_after": "no goals"}]


def test_burnqed_embeddings_stream_as_float64_matrix(tmp_path):
    import pyarrow.parquet as pq

    vecs = np.random.default_rng(0).normal(size=(10, 4))
    pq.write_table(pa.table({"state_pp": [f"⊢ {i}" for i in range(10)],
                             "embedding": pa.array(vecs.tolist(), pa.list_(pa.float64()))}), tmp_path / "e.parquet")
    batches = list(iter_burnqed_embeddings(tmp_path / "e.parquet", batch_rows=4))
    assert [len(s) for s, _ in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([m for _, m in batches]), vecs)
