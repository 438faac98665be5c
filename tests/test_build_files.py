"""``Build``: every file of a build named in one place, its lock and stats read once."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from prover_data.build.files import Build, eval_file, output_file
from prover_data.errors import InputError
from prover_data.schema import OUTPUTS


def _build(tmp_path) -> Build:
    return Build(SimpleNamespace(name="demo"), tmp_path / "builds")


def test_every_output_of_the_contract_has_its_file_and_no_other_name_does(tmp_path):
    build = _build(tmp_path)
    assert list(build.outputs()) == list(OUTPUTS)
    assert build.output("sft_train") == tmp_path / "builds" / "demo" / "sft_train.parquet"
    assert output_file("values_val") == "values_val.parquet" and eval_file("e") == "eval/e.json"
    with pytest.raises(KeyError, match="no build output named 'sft_test'"):
        build.output("sft_test")


def test_a_missing_build_names_the_file_and_the_command(tmp_path):
    build = _build(tmp_path)
    with pytest.raises(InputError) as e:
        build.stats
    assert "stats.json missing" in str(e.value) and "run prover-data build-manifest demo first" in str(e.value)
    assert e.value.problems[0].file == str(build.dir)


def test_stats_are_read_once_and_staged_files_lie_in_the_staging_directory(tmp_path):
    build = _build(tmp_path)
    build.dir.mkdir(parents=True)
    build.stats_file.write_text(json.dumps({"name": "demo"}))
    assert build.stats == {"name": "demo"}
    build.stats_file.write_text(json.dumps({"name": "changed"}))
    assert build.stats == {"name": "demo"}  # opened once
    staged = build.staged(tmp_path / "tmp")
    assert staged.output("states") == tmp_path / "tmp" / "states.parquet"
    assert staged.eval_set("e") == tmp_path / "tmp" / "eval" / "e.json" and staged.name == "demo"
    assert build.mutex == tmp_path / "builds" / ".demo.lock"
