"""The lock: round trip, no-op detection inputs, and diff verdicts in TFDS's terms."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from prover_data.build.lock import InputEntry, Lock, diff, input_entries, package_versions, sql_hashes
from prover_data.errors import InputError
from prover_data.manifest import load_manifest
from prover_data.sql_files import all_sql_files, sql_dir, sql_files
from tests.conftest import REPO


def _lock() -> Lock:
    return Lock(
        manifest={"name": "m", "file": "m.toml", "hash": "xxh3_128:aa"},
        inputs=[InputEntry("trajectory", "trajectories/a.parquet", 10, "xxh3_128:01", 5),
                InputEntry("theorem_index", "theorem_index.json", 20, "xxh3_128:02", 3)],
        sql={"00_trajectories.sql": "xxh3_128:0f"},
        versions={"duckdb": "2.0.1", "python": "3.11.9"},
        outputs={"sft_train": {"file": "sft_train.parquet", "rows": 100, "hash": "xxh3_128:10"},
                 "report": {"file": "report.md", "rows": None, "hash": "xxh3_128:11"}},
    )


def test_lock_round_trips_byte_for_byte(tmp_path):
    lock = _lock()
    (tmp_path / "lock.json").write_text(lock.to_json())
    again = Lock.read(tmp_path / "lock.json")
    assert again.to_json() == lock.to_json()
    assert again.fingerprint() == lock.fingerprint()


@pytest.mark.parametrize("text", ["{", '{"format": 1}', "[]"])
def test_a_broken_lock_is_an_input_error(tmp_path, text):
    (tmp_path / "lock.json").write_text(text)
    with pytest.raises(InputError, match="not a prover-data lock"):
        Lock.read(tmp_path / "lock.json")
    with pytest.raises(InputError, match="has this manifest been built"):
        Lock.read(tmp_path / "missing.json")


def test_diff_of_a_lock_with_itself_is_same_records():
    d = diff(_lock(), _lock())
    assert d.verdict == "same records"
    assert not (d.inputs_added or d.inputs_removed or d.inputs_changed or d.sql_changed or d.manifest_changed)


@pytest.mark.parametrize("change", ["input", "sql", "version", "manifest", "report"])
def test_changes_that_leave_records_identical_are_metadata_only(change):
    a, b = _lock(), _lock()
    if change == "input":
        b.inputs[1] = InputEntry("theorem_index", "theorem_index.json", 21, "xxh3_128:03", 3)
    elif change == "sql":
        b.sql["00_trajectories.sql"] = "xxh3_128:ff"
    elif change == "version":
        b.versions["duckdb"] = "2.1.0"
    elif change == "manifest":
        b.manifest["hash"] = "xxh3_128:bb"
    else:
        b.outputs["report"]["hash"] = "xxh3_128:12"
    d = diff(a, b)
    assert d.verdict == "metadata only", change
    if change == "input":
        assert d.inputs_changed == ["theorem_index: theorem_index.json"]
    if change == "version":
        assert d.versions_changed == {"duckdb": ("2.0.1", "2.1.0")}


def test_changed_records_and_row_deltas():
    a, b = _lock(), copy.deepcopy(_lock())
    b.outputs["sft_train"] = {"file": "sft_train.parquet", "rows": 90, "hash": "xxh3_128:20"}
    b.outputs["eval_x"] = {"file": "eval_x.json", "rows": 7, "hash": "xxh3_128:21"}
    b.inputs.append(InputEntry("trajectory", "trajectories/b.parquet", 1, "xxh3_128:04", 1))
    d = diff(a, b)
    assert d.verdict == "different records"
    assert d.outputs["sft_train"]["delta"] == -10 and not d.outputs["sft_train"]["same_content"]
    assert d.outputs["eval_x"] == {"rows_a": None, "rows_b": 7, "delta": 7, "same_content": False, "records": True}
    assert d.outputs["report"]["delta"] is None
    assert d.inputs_added == ["trajectory: trajectories/b.parquet"]
    assert diff(b, a).inputs_removed == ["trajectory: trajectories/b.parquet"]


def test_input_entries_are_relative_to_the_data_root_and_hashed():
    m = load_manifest(REPO / "manifests" / "demo.toml")
    entries = input_entries(m)
    assert [e.role for e in entries][:8] == ["trajectory"] * 8
    assert all(not Path(e.path).is_absolute() for e in entries)
    assert {e.role for e in entries} >= {"base_pairs", "theorem_index", "held_out:putnam", "search_config"}
    assert entries == input_entries(m)  # deterministic
    hashes = sql_hashes()
    assert set(hashes) == {f.relative_to(sql_dir()).as_posix() for f in all_sql_files()}
    assert {"checks/trajectory.sql", "inputs/leandojo.sql"} <= set(hashes)  # below sql/ too
    assert {f.relative_to(sql_dir()).as_posix() for f in sql_files()} < set(hashes)  # the views are not all of it
    assert {"macros.sql", "stats/20_sft_file_stats.sql"} <= set(hashes)
    assert {"prover-data", "duckdb", "pyarrow", "polars", "python"} <= set(package_versions())
