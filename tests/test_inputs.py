"""Validated readers of the inputs: real files are accepted, every class of bad input is named precisely."""

from __future__ import annotations

import importlib
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover_data.errors import InputError
from prover_data.inputs import trajectories
from prover_data.inputs.burnqed_embeddings import iter_burnqed_embeddings
from prover_data.inputs.detect import inspect_path, validate_path
from prover_data.inputs.leandojo import read_leandojo
from prover_data.inputs.problems import RUNS_SHOWN
from prover_data.inputs.search_config import read_search_config
from prover_data.inputs.text_files import NotStreamable, json_array_items
from prover_data.inputs.theorem_lists import read_theorem_list
from prover_data.inputs.trajectories import MAX_TEXT_BYTES, check_trajectory_file, validate_trajectory_file
from prover_data.inputs.whole_proofs import read_whole_proofs
from prover_data.schema import TRAJECTORY
from tests.bad_inputs import CASES, GOOD_LEANDOJO, schema_with, valid_trajectory, write_trajectory
from tests.conftest import BURNQED, SAMPLE


def _problems(case, path):
    if case.reader is None:
        return validate_path(path)[1]
    module, function = case.reader.rsplit(".", 1)
    with pytest.raises(InputError) as e:
        result = getattr(importlib.import_module(f"prover_data.inputs.{module}"), function)(path)
        if function.startswith("iter_"):
            list(result)
    return e.value.problems


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_bad_input_is_named(case, tmp_path):
    path = case.make(tmp_path / f"input{case.suffix}")
    problems = _problems(case, path)
    assert problems, f"{case.name} was accepted"
    hits = [p for p in problems if case.expect in p.message]
    assert hits, f"{case.name}: no problem says {case.expect!r}: {[str(p) for p in problems]}"
    assert all(path.name in p.file and p.check for p in problems), problems
    if case.where is not None:
        assert any(case.where in (p.column, p.key) for p in hits), [str(p) for p in hits]
    if case.row is not None:
        assert any(p.row == case.row for p in hits), [str(p) for p in hits]
        assert any(re.search(rf"\brows? {case.row}\b", str(p)) for p in hits)


def test_problem_line_names_file_row_column_and_value(tmp_path):
    cols = valid_trajectory()
    cols["label"][2] = "maybe"
    path = write_trajectory(tmp_path / "t.parquet", cols)
    with pytest.raises(InputError) as e:
        check_trajectory_file(path)
    assert str(e.value) == (f"{path}: row 2, column 'label': unknown label (expected positive, negative or unknown); "
                            "found 'maybe'")


def test_all_problems_reported_not_only_the_first(tmp_path):
    cols = valid_trajectory()
    cols["label"][2] = "maybe"
    cols["remaining_depth"][4] = -9
    cols["parent_state_id"][5] = 77
    cols["llm_log_prob"][0] = float("nan")
    path = write_trajectory(tmp_path / "t.parquet", cols)
    _, problems = validate_trajectory_file(path)
    assert {(p.column, p.row) for p in problems} == {
        ("label", 2), ("remaining_depth", 4), ("parent_state_id", 5), ("llm_log_prob", 0)}


def test_consecutive_bad_rows_become_a_range(tmp_path):
    cols = valid_trajectory()
    for r in (1, 2, 3):
        cols["label"][r] = "?"
    path = write_trajectory(tmp_path / "t.parquet", cols)
    (p,) = validate_path(path)[1]
    assert (p.row, p.row_end, p.count) == (1, 3, 3)
    assert "rows 1-3" in str(p)


def _big_valid(n_theorems: int) -> dict[str, list]:
    """``n_theorems`` copies of the valid searches, renamed apart."""
    base = valid_trajectory()
    cols: dict[str, list] = {k: [] for k in base}
    for i in range(n_theorems):
        for k, v in base.items():
            cols[k] += [f"{x}_{i}" for x in v] if k == "theorem_name" else v
    return cols


def test_a_rule_broken_in_thousands_of_rows_is_summarized(tmp_path):
    cols = _big_valid(2000)  # 12,000 rows
    bad = list(range(0, 12_000, 3))  # 4,000 separate rows
    for r in bad:
        cols["label"][r] = "pos"
    path = write_trajectory(tmp_path / "t.parquet", cols)
    problems = validate_path(path)[1]
    assert len(problems) == RUNS_SHOWN + 1
    assert [p.row for p in problems[:RUNS_SHOWN]] == bad[:RUNS_SHOWN]
    assert sum(p.count for p in problems) == len(bad)
    assert "more row ranges like this, the last ending at row 11,997" in problems[-1].message


def test_rows_are_file_rows_across_row_groups(tmp_path):
    """Dictionaries and indices are per row group; reported rows must still be file rows."""
    cols = _big_valid(50)  # 300 rows
    cols["label"][251] = "maybe"
    cols["state_pp"][257] = "⊢ " + "x" * (MAX_TEXT_BYTES + 1)
    cols["parent_state_id"][263] = 99
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(cols, schema=TRAJECTORY), path, row_group_size=64)
    assert pq.ParquetFile(path).num_row_groups == 5
    _, problems = validate_trajectory_file(path)
    assert {(p.check, p.row) for p in problems} == {("unknown_label", 251), ("huge_text", 257), ("missing_parent", 263)}


def test_compatible_types_are_accepted(tmp_path):
    """Any integer width in range, large/dictionary strings, float32, extra columns."""
    fields = []
    for f in TRAJECTORY:
        if pa.types.is_integer(f.type):
            f = pa.field(f.name, pa.int64(), f.nullable)
        elif f.name == "state_pp":
            f = pa.field(f.name, pa.large_string(), f.nullable)
        elif f.name == "label":
            f = pa.field(f.name, pa.dictionary(pa.int8(), pa.string()), f.nullable)
        elif f.name == "ebm_score":
            f = pa.field(f.name, pa.float32(), f.nullable)
        fields.append(f)
    cols = valid_trajectory()
    cols["extra_column"] = ["anything"] * 6
    path = write_trajectory(tmp_path / "t.parquet", cols, pa.schema(fields + [pa.field("extra_column", pa.string())]))
    info = check_trajectory_file(path)
    assert (info.rows, info.theorems, info.positives, info.negatives, info.unknown) == (6, 2, 3, 3, 0)


def test_wider_integer_type_out_of_range_is_named(tmp_path):
    cols = valid_trajectory()
    cols["remaining_depth"][1] = 2**31
    path = write_trajectory(tmp_path / "t.parquet", cols, schema_with("remaining_depth", pa.int64()))
    (p,) = validate_path(path)[1]
    assert (p.column, p.row, p.check) == ("remaining_depth", 1, "out_of_range")
    assert "value above 2,147,483,647 (stored as int64, spec'd as int32)" in p.message


def test_many_non_utf8_rows_are_all_counted(tmp_path):
    n = 10_000
    texts = [f"⊢ {i}".encode() for i in range(n)]
    for i in range(100, 9_000, 7):
        texts[i] = b"\xff" + texts[i]
    offsets = np.cumsum([0] + [len(t) for t in texts]).astype(np.int32)
    cols = _big_valid(n // 6 + 1)
    cols = {k: v[:n] for k, v in cols.items()}
    cols["tactic_applied"] = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets.tobytes()),
                                                                   pa.py_buffer(b"".join(texts))])
    path = write_trajectory(tmp_path / "t.parquet", cols)
    problems = [p for p in validate_path(path)[1] if p.check == "not_utf8"]
    assert problems[0].row == 100 and problems[0].column == "tactic_applied"
    assert sum(p.count for p in problems) == len(range(100, 9_000, 7))


def test_trajectory_info_counts(tmp_path):
    cols = valid_trajectory()
    cols["label"][5] = "unknown"
    info = check_trajectory_file(write_trajectory(tmp_path / "t.parquet", cols))
    assert (info.rows, info.theorems, info.positives, info.negatives, info.unknown) == (6, 2, 3, 2, 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-1, max_value=29), min_size=1, max_size=30))
def test_loop_finder_agrees_with_walking_the_links(links):
    parent = np.array([p if p < len(links) else -1 for p in links], dtype=np.int64)

    def loops(v: int) -> bool:
        seen = set()
        while parent[v] >= 0:
            if v in seen:
                return True
            seen.add(v)
            v = int(parent[v])
        return False

    assert trajectories._looping_rows(parent).tolist() == [v for v in range(len(parent)) if loops(v)]


# ----------------------------------------------------------------------------- real files


def test_bundled_sample_and_real_files_are_clean():
    paths = sorted(p for p in list(SAMPLE.rglob("*")) + list(BURNQED.iterdir()) if p.suffix in (".parquet", ".json", ".toml"))
    assert len([p for p in paths if p.suffix == ".parquet"]) >= 8, "the bundled sample is missing"
    kinds = {}
    for path in paths:
        v = inspect_path(path)
        assert not v.problems, (path, [str(p) for p in v.problems])
        kinds[path.name] = v.kind
        assert v.rows or v.kind == "search_config", path
    assert kinds["3thm_diversity_test_iter0_mid.json"] == "whole_proofs"
    assert kinds["search.toml"] == "search_config"
    assert kinds["benchmark4.json"] == "leandojo"
    assert kinds["putnam.json"] == kinds["theorem_index.json"] == "theorem_list"
    assert kinds["iter_0.parquet"] == "trajectory"


def test_real_theorem_lists_read():
    putnam = read_theorem_list(BURNQED / "putnam.json")  # has an extra "preamble" key
    assert putnam.num_rows == 672 and putnam.column_names == ["name", "statement"]
    assert putnam.schema.field("name").type == pa.string()
    sizes = {p.name: read_theorem_list(p).num_rows for p in BURNQED.glob("*.json") if p.name != "putnam.json"
             and not p.name.startswith("3thm")}
    assert sizes == {"goedel_depth3.json": 2440, "goedel_depth4plus.json": 3288, "iter0_search_theorems.json": 10000,
                     "minif2f_test.json": 244, "minif2f_v2c_test.json": 244, "minif2f_v2s_test.json": 244,
                     "minif2f_valid.json": 244}


def test_real_search_config_and_whole_proofs_read():
    config = read_search_config(BURNQED / "search.toml")
    assert config["search"]["max_depth"] == 25 and config["lean_pool"]["num_workers"] == 8
    proofs = read_whole_proofs(BURNQED / "3thm_diversity_test_iter0_mid.json")
    assert set(proofs) == {"mathd_algebra_59", "mathd_algebra_327", "amc12a_2003_p24"}
    assert all(isinstance(p, str) for temps in proofs.values() for ps in temps.values() for p in ps)


def test_leandojo_reader_pairs_state_before_with_tactic(tmp_path):
    path = tmp_path / "b.json"
    two = {**GOOD_LEANDOJO, "traced_tactics": GOOD_LEANDOJO["traced_tactics"] * 2}
    path.write_text(json.dumps([GOOD_LEANDOJO, two]))
    t = read_leandojo(path)
    assert t.schema.field("tactic_index").type == pa.int32()
    assert t.column("tactic_index").to_pylist() == [0, 0, 1]
    assert t.to_pylist()[0] == {"theorem_name": "Nat.foo", "file_path": "Mathlib/Foo.lean", "tactic_index": 0,
                                "state_pp": "⊢ x + 0 = x", "tactic": "simp", "state_after": "no goals"}


def test_bundled_leandojo_sample_reads():
    t = read_leandojo(SAMPLE / "leandojo" / "benchmark4.json")
    assert t.num_rows > 0 and t.column("state_pp").null_count == 0


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_leandojo_is_decoded_one_theorem_at_a_time_across_chunk_boundaries(chunk, tmp_path):
    path = SAMPLE / "leandojo" / "benchmark4.json"
    assert list(json_array_items(path, chunk_chars=chunk)) == json.loads(path.read_text(encoding="utf-8"))
    numbers = tmp_path / "n.json"
    numbers.write_text("\ufeff [12345, 6.5e3 ,\n[], {}] \n", encoding="utf-8")
    assert list(json_array_items(numbers, chunk_chars=chunk)) == [12345, 6.5e3, [], {}]
    for bad in ('[{"a": 1}', '[1, 2] 3', '{"theorems": []}', '[1 2]'):
        numbers.write_text(bad, encoding="utf-8")
        with pytest.raises(NotStreamable):
            list(json_array_items(numbers, chunk_chars=chunk))


# ----------------------------------------------------------------------------- embeddings


def _write_embeddings(path, vectors, type_=pa.list_(pa.float64())):
    pq.write_table(pa.table({"state_pp": [f"⊢ {i}" for i in range(len(vectors))],
                             "embedding": pa.array(vectors.tolist(), type_)}), path)
    return path


def test_burnqed_embeddings_stream_as_float64_matrix(tmp_path):
    vecs = np.random.default_rng(0).normal(size=(10, 4))
    batches = list(iter_burnqed_embeddings(_write_embeddings(tmp_path / "e.parquet", vecs), batch_rows=4))
    assert [len(s) for s, _ in batches] == [4, 4, 2]
    assert batches[0][0].type == pa.string() and batches[0][0][1].as_py() == "⊢ 1"
    matrix = np.concatenate([m for _, m in batches])
    assert matrix.dtype == np.float64 and np.array_equal(matrix, vecs)


@pytest.mark.parametrize("type_", [pa.list_(pa.float32()), pa.list_(pa.float64(), 4), pa.large_list(pa.float64())],
                         ids=["float32", "fixed_size", "large_list"])
def test_burnqed_embeddings_other_list_types(tmp_path, type_):
    vecs = np.arange(24, dtype=np.float64).reshape(6, 4) / 8
    matrix = np.concatenate([m for _, m in iter_burnqed_embeddings(_write_embeddings(tmp_path / "e.parquet", vecs, type_))])
    assert matrix.dtype == np.float64 and np.array_equal(matrix, vecs)


def test_embedding_problems_in_every_batch_are_reported(tmp_path):
    vecs = [[0.5, 0.5]] * 20
    vecs[3] = [0.5]
    vecs[17] = [0.5, 0.5, 0.5]
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"state_pp": [f"⊢ {i}" for i in range(20)], "embedding": vecs}), path)
    yielded = []
    with pytest.raises(InputError) as e:
        for states, _ in iter_burnqed_embeddings(path, batch_rows=8):
            yielded.append(len(states))
    assert yielded == []  # the first batch is already bad: nothing was handed out
    assert [(p.row, p.check) for p in e.value.problems] == [(3, "ragged"), (17, "ragged")]
    assert "dimension 1" in e.value.problems[0].message


def test_embedding_null_and_infinite_elements_are_named(tmp_path):
    vectors = pa.array([[1.0, None], [1.0, 2.0], [float("inf"), 1.0], None], pa.list_(pa.float32()))
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"state_pp": ["⊢ a", "⊢ b", "⊢ c", "⊢ d"], "embedding": vectors}), path)
    with pytest.raises(InputError) as e:
        list(iter_burnqed_embeddings(path))
    assert sorted((p.row, p.check) for p in e.value.problems) == [(0, "not_finite"), (2, "not_finite"), (3, "null")]
