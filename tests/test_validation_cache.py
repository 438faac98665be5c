"""Inputs validated before are not validated again, and a cache entry is trusted only whole."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prover_data.build.lock import code_digest
from prover_data.build.stages import build
from prover_data.build.validation_cache import DIRECTORY, ValidationCache
from prover_data.manifest import load_manifest
from tests.test_views import A_NODES, B_NODES, make_root


def _manifests(tmp_path):
    """Iteration N (file a) and N+1 (files a and b) over one data root."""
    later = make_root(tmp_path / "root", {"a": A_NODES, "b": B_NODES})
    earlier = later.parent / "n.toml"
    earlier.write_text(later.read_text().replace('"a.parquet", "b.parquet"', '"a.parquet"').replace('"t"', '"n"'))
    return load_manifest(earlier), load_manifest(later)


def test_the_next_iteration_validates_only_its_new_files(tmp_path):
    earlier, later = _manifests(tmp_path)
    first = build(earlier, tmp_path / "build")
    assert first.checked == ("a.parquet",)
    second = build(later, tmp_path / "build")
    assert second.checked == ("b.parquet",)  # a.parquet was validated by the first build
    cold = build(later, tmp_path / "cold")
    assert cold.checked == ("a.parquet", "b.parquet")
    # the same outputs either way
    for name in ("sft_train", "contrastive_train", "states"):
        assert second.lock.outputs[name]["hash"] == cold.lock.outputs[name]["hash"]


def test_a_changed_file_is_validated_again_and_its_problems_reported(tmp_path):
    earlier, later = _manifests(tmp_path)
    build(later, tmp_path / "build")
    broken = [n if n[1] != 4 else (n[0], 4, 99, *n[3:]) for n in A_NODES]  # a parent that does not exist
    make_root(tmp_path / "root", {"a": broken, "b": B_NODES})
    proc = subprocess.run([sys.executable, "-m", "prover_data", "build-manifest", str(later.path), "--build-dir",
                           str(tmp_path / "build")], capture_output=True, text=True)
    assert proc.returncode == 2 and "a.parquet" in proc.stderr and "parent_state_id" in proc.stderr


def test_an_entry_is_trusted_only_when_whole_and_for_this_validator(tmp_path):
    cache = ValidationCache(tmp_path)
    cache.remember("trajectory", "xxh3_128:abc", "refuse")
    assert cache.known("trajectory", "xxh3_128:abc", "refuse")
    assert not cache.known("trajectory", "xxh3_128:abc", "split_at_roots")  # other options
    assert not cache.known("trajectory", "xxh3_128:abd", "refuse")  # other bytes
    (entry,) = (tmp_path / DIRECTORY).glob("trajectory-*.json")
    doc = json.loads(entry.read_text())
    assert doc["validator"] == code_digest()  # the lock's code digest: one for both
    for damage in (entry.read_text()[:-9], "", json.dumps({**doc, "validator": "xxh3_128:old"})):
        entry.write_text(damage)  # a torn write (a kill mid-write leaves only a temporary file) or an older validator
        assert not cache.known("trajectory", "xxh3_128:abc", "refuse")
    (tmp_path / DIRECTORY / ".trajectory-x.json.tmp-1-abc").write_text(json.dumps(doc))
    assert not cache.known("trajectory", "xxh3_128:abc", "refuse")  # temporaries are never read


def test_two_builds_at_once_share_the_cache(tmp_path):
    _, later = _manifests(tmp_path)
    other = later.path.parent / "u.toml"
    other.write_text(later.path.read_text().replace('name = "t"', 'name = "u"'))
    procs = [subprocess.Popen([sys.executable, "-m", "prover_data", "build-manifest", str(m), "--build-dir",
                               str(tmp_path / "build"), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for m in (later.path, other)]
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    entries = list((tmp_path / "build" / DIRECTORY).glob("*.json"))
    assert len(entries) == 2 and all(json.loads(e.read_text())["kind"] == "trajectory" for e in entries)
    assert not [p for p in (tmp_path / "build" / DIRECTORY).iterdir() if ".tmp-" in p.name]


def test_every_bad_trajectory_is_caught_by_the_build_s_own_checks(tmp_path):
    """The checks a build runs where it loads the trajectories miss nothing the validator refuses."""
    from prover_data.errors import InputError
    from tests.bad_inputs import CASES

    cases = [c for c in CASES if c.suffix == ".parquet" and "embedding" not in c.name]
    assert len(cases) > 25
    for i, case in enumerate(cases):
        root = tmp_path / str(i)
        root.mkdir()
        bad = case.make(root / "t.parquet")
        (root / "m.toml").write_text('name = "bad"\n[sources]\ntrajectories = ["t.parquet"]\n')
        with pytest.raises(InputError) as e:
            build(load_manifest(root / "m.toml"), root / "build")
        assert str(bad) in str(e.value) and case.expect in str(e.value), case.name
        assert not (root / "build" / "bad").exists()


def test_every_bad_leandojo_file_is_named_by_the_build_beside_the_trajectories_problems(tmp_path):
    """The LeanDojo file is read and checked on a thread beside the trajectories: its
    problems come back to the build, together with a bad trajectory file's."""
    from prover_data.errors import InputError
    from tests.bad_inputs import CASES, GOOD_LEANDOJO, valid_trajectory, write_trajectory

    cases = [c for c in CASES if c.name.startswith("LeanDojo")]
    assert len(cases) >= 3
    for i, case in enumerate(cases):
        root = tmp_path / str(i)
        root.mkdir()
        bad = case.make(root / "benchmark4.json")
        write_trajectory(root / "t.parquet", valid_trajectory())
        (root / "m.toml").write_text('name = "bad"\n[sources]\ntrajectories = ["t.parquet"]\n'
                                     '[sources.base_pairs]\npath = "benchmark4.json"\n')
        with pytest.raises(InputError) as e:
            build(load_manifest(root / "m.toml"), root / "build")
        assert str(bad) in str(e.value) and case.expect in str(e.value), case.name
        assert not (root / "build" / "bad").exists()
        # a good LeanDojo file loads in full
        bad.write_text(json.dumps([GOOD_LEANDOJO, {**GOOD_LEANDOJO, "full_name": "Nat.bar"}]), encoding="utf-8")
        result = build(load_manifest(root / "m.toml"), root / "build")
        assert {e.path: e.rows for e in result.lock.inputs}["benchmark4.json"] == 2

    both = tmp_path / "both"
    both.mkdir()
    bad_json = cases[0].make(both / "benchmark4.json")
    bad_parquet = next(c for c in CASES if c.suffix == ".parquet" and "embedding" not in c.name)
    bad_trajectory = bad_parquet.make(both / "t.parquet")
    (both / "m.toml").write_text('name = "bad"\n[sources]\ntrajectories = ["t.parquet"]\n'
                                 '[sources.base_pairs]\npath = "benchmark4.json"\n')
    with pytest.raises(InputError) as e:
        build(load_manifest(both / "m.toml"), both / "build")
    assert str(bad_json) in str(e.value) and str(bad_trajectory) in str(e.value)


def _trajectory_cases():
    """Every trajectory case, bad (CASES' and the edges') and good (the edges'), with its id."""
    from tests.bad_inputs import CASES, EDGE_TRAJECTORIES, TrajectoryCase

    cases = [TrajectoryCase(c.name, c.make, True) for c in CASES if c.suffix == ".parquet" and "embedding" not in c.name]
    return [pytest.param(c, id=c.name) for c in cases + EDGE_TRAJECTORIES]


def _build_flags(path, repeated_searches: str) -> str | None:
    """Which of a build's own checks, run as a build runs them where it loads the
    trajectories (``build.inputs._Trajectories``), flags the file: None when none does."""
    import duckdb

    from prover_data.inputs.trajectories import files_with_problems, footer_problems
    from prover_data.views import define_input_views, materialize, open_inputs

    if footer_problems(path):
        return "footer"
    manifest = path.parent / "m.toml"
    manifest.write_text(f'name = "e"\n[sources]\ntrajectories = ["{path.name}"]\n'
                        f'repeated_searches = "{repeated_searches}"\n')
    con = open_inputs(load_manifest(manifest))
    try:
        define_input_views(con)
        materialize(con, "trajectory_records")
    except duckdb.Error:  # a value the views cannot read: the build sends the file to the validator
        return "load"
    return "sql" if files_with_problems(con, repeated_searches, []) == [0] else None


@pytest.mark.parametrize("case", _trajectory_cases())
def test_the_build_s_sql_checks_and_the_validator_flag_the_same_trajectory_files(case, tmp_path):
    """The value and tree rules are stated in Python (the validator, which names each
    problem) and counted in SQL by a build: on every case both flag it, or neither."""
    from prover_data.inputs.trajectories import validate_trajectory_file

    path = case.make(tmp_path / "t.parquet")
    named = validate_trajectory_file(path, case.repeated_searches)[1]
    flagged = _build_flags(path, case.repeated_searches)
    assert bool(named) == case.bad, named
    assert (flagged is not None) == case.bad, flagged
