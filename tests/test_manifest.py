"""The manifest reader: strict keys and types, every problem named by its dotted key, data roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover_data.errors import InputError
from prover_data.manifest import DATA_ROOT_ENV, MANIFEST_DIR_ENV, find_manifest, load_manifest
from tests.bad_inputs import valid_trajectory, write_trajectory
from tests.conftest import REPO, SAMPLE, run_cli

OK = 'name = "m"\n[sources]\ntrajectories = ["t.parquet"]\n'


def _write(tmp_path: Path, text: str | bytes, name: str = "m.toml") -> Path:
    write_trajectory(tmp_path / "t.parquet", valid_trajectory())
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def _problems(path: Path, **kw) -> list:
    with pytest.raises(InputError) as e:
        load_manifest(path, **kw)
    return e.value.problems


# ----------------------------------------------------------------------------- the real manifests


def test_demo_manifest_loads_over_the_bundled_sample():
    m = load_manifest(REPO / "manifests" / "demo.toml")
    assert m.name == "demo" and m.root == SAMPLE.resolve()
    paths = m.trajectory_paths()
    assert [p.name for p in paths] == sorted(p.name for p in (SAMPLE / "trajectories").glob("*.parquet"))
    assert all(p.is_file() for p in paths)
    assert set(m.held_out_paths()) == {"train_eval", "minif2f_test", "minif2f_valid", "putnam"}
    assert m.embeddings is not None and m.embeddings.dtype == "float32" and m.embeddings.dim == 384
    assert [s.name for s in m.eval.sets] == ["eval_clean_20"]


def test_iter_4_manifest_declares_the_report_inputs():
    m = load_manifest(REPO / "manifests" / "iter_4.toml", check_files=False)
    assert [Path(t).stem for t in m.sources.trajectories] == [
        "iter_0", "iter_0_noisy", "iter_1", "iter_1_harvest", "iter_1_negatives", "iter_2", "iter_2_broken_ebm",
        "iter_2_search"]
    assert m.sources.base_pairs is not None and m.sources.base_pairs.subsample == 50_000
    assert (m.split.val_fraction, m.contrastive.k_negatives, m.embeddings.dtype) == (0.1, 7, "float16")
    assert m.train.sft.target_modules[0] == "q_proj" and m.train.ebm.hidden_dims == (2048, 1024, 512)


def test_iter_4_without_its_data_names_every_missing_file(tmp_path):
    problems = _problems(REPO / "manifests" / "iter_4.toml", data_root=tmp_path)
    keys = {p.key for p in problems}
    assert {f"sources.trajectories[{i}]" for i in range(8)} <= keys
    assert {"sources.theorem_index", "sources.base_pairs.path", "sources.held_out.putnam"} <= keys
    assert all(p.check == "no_file" and str(tmp_path) in p.message for p in problems)


# ----------------------------------------------------------------------------- one problem class each

BAD = [
    ("unknown key", OK + "[split]\nval_fracton = 0.2\n", "split.val_fracton", "unknown key", "unknown_key"),
    ("unknown table", OK + "[trian.sft]\nlora_r = 8\n", "trian", "unknown key", "unknown_key"),
    ("wrong type", OK + '[split]\nval_fraction = "0.1"\n', "split.val_fraction", "expected float", "wrong_type"),
    ("int given a float", OK + "[contrastive]\nk_negatives = 7.5\n", "contrastive.k_negatives", "expected int",
     "wrong_type"),
    ("boolean given a string", OK + '[filters]\ndedup = "yes"\n', "filters.dedup", "expected bool", "wrong_type"),
    ("list item of wrong type", OK.replace('"t.parquet"]', '"t.parquet", 3]'), "sources.trajectories[1]",
     "expected str", "wrong_type"),
    ("table given a value", "split = 3\n" + OK, "split", "expected a table", "wrong_type"),
    ("bad value", OK + "[split]\nval_fraction = 1.5\n", "split.val_fraction", "strictly between 0 and 1", "bad_value"),
    ("unknown choice", OK + '[filters]\npairing = "child"\n', "filters.pairing", "expected one of", "bad_value"),
    ("ratios not summing to 1", OK + "[contrastive]\nhard_ratio = 0.9\n", "contrastive", "sum to 1", "bad_value"),
    ("audit list not declared", OK + '[eval]\naudit = ["minif2f"]\n', "eval.audit", "not a list in [sources.held_out]",
     "bad_value"),
    ("missing file", OK.replace("t.parquet", "nope.parquet"), "sources.trajectories[0]", "no such file", "no_file"),
    ("glob matching nothing", OK.replace("t.parquet", "trajectories/*.parquet"), "sources.trajectories[0]",
     "no such file", "no_file"),
    ("missing required key", 'name = "m"\n', "sources", "required key is missing", "missing_key"),
    ("missing nested required key", OK + '[embeddings]\nencoder = "x"\ndtype = "float16"\n', "embeddings.store",
     "required key is missing", "missing_key"),
]


@pytest.mark.parametrize("text,key,phrase,check", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_problem_is_named_by_its_dotted_key(tmp_path, text, key, phrase, check):
    problems = _problems(_write(tmp_path, text))
    hits = [p for p in problems if p.key == key and phrase in p.message]
    assert hits, [str(p) for p in problems]
    assert hits[0].check == check and hits[0].file == str(tmp_path / "m.toml")
    assert f"key '{key}'" in str(hits[0])


@pytest.mark.parametrize("data,phrase,check", [
    (b'name = "m\n[sources', "not valid TOML", "bad_toml"),
    (b'name = "caf\xe9"\n', "not UTF-8 text", "not_utf8"),
], ids=["bad TOML", "not UTF-8"])
def test_unreadable_manifest_files(tmp_path, data, phrase, check):
    (p,) = _problems(_write(tmp_path, data))
    assert phrase in p.message and p.check == check and p.file == str(tmp_path / "m.toml")


def test_every_problem_is_reported_together(tmp_path):
    text = "colour = 1\n" + OK + "[split]\nval_fracton = 0.2\nseed = \"x\"\n[filters]\npairing = 3\n"
    keys = {p.key for p in _problems(_write(tmp_path, text))}
    assert keys == {"colour", "split.val_fracton", "split.seed", "filters.pairing"}


def test_value_problems_are_reported_together(tmp_path):
    text = OK + "[split]\nval_fraction = 0\n[contrastive]\nk_negatives = 0\nrounds = 0\n"
    keys = {p.key for p in _problems(_write(tmp_path, text))}
    assert keys == {"split.val_fraction", "contrastive.k_negatives", "contrastive.rounds"}


@pytest.mark.parametrize("text,key", [
    (OK + "[split]\nval_fracton = 0.2\n", "split.val_fracton"),
    (OK.replace("t.parquet", "nope.parquet"), "sources.trajectories[0]"),
    (b'name = "caf\xe9"\n', None),
], ids=["unknown key", "missing file", "not UTF-8"])
def test_cli_names_the_key_and_exits_2(tmp_path, text, key):
    path = _write(tmp_path, text)
    proc = run_cli("validate", str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and str(path) in proc.stderr + proc.stdout
    if key is not None:
        assert f"key '{key}'" in proc.stderr


# ----------------------------------------------------------------------------- finding files and data roots


def test_data_root_precedence(tmp_path, monkeypatch):
    for d in ("declared", "env", "flag"):
        (tmp_path / d).mkdir()
        write_trajectory(tmp_path / d / "t.parquet", valid_trajectory())
    path = _write(tmp_path, 'data_root = "declared"\n' + OK)
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    assert load_manifest(path).root == (tmp_path / "declared").resolve()
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "env"))
    assert load_manifest(path).root == (tmp_path / "env").resolve()
    assert load_manifest(path, data_root=tmp_path / "flag").root == (tmp_path / "flag").resolve()
    monkeypatch.delenv(DATA_ROOT_ENV)
    plain = _write(tmp_path, OK, "plain.toml")
    assert load_manifest(plain).root == tmp_path.resolve()


def test_globs_expand_sorted_in_place(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("b.parquet", "a.parquet", "first.parquet"):
        write_trajectory(tmp_path / "d" / name, valid_trajectory())
    path = _write(tmp_path, 'name = "m"\n[sources]\ntrajectories = ["d/first.parquet", "d/[ab].parquet", "t.parquet"]\n')
    assert [p.name for p in load_manifest(path).trajectory_paths()] == ["first.parquet", "a.parquet", "b.parquet",
                                                                        "t.parquet"]


def test_find_manifest_by_name(tmp_path, monkeypatch):
    path = _write(tmp_path, OK, "mine.toml")
    monkeypatch.setenv(MANIFEST_DIR_ENV, str(tmp_path))
    assert find_manifest("mine") == path.resolve()
    monkeypatch.chdir(REPO)
    assert find_manifest("demo") == (REPO / "manifests" / "demo.toml").resolve()
    with pytest.raises(InputError) as e:
        find_manifest("no_such_manifest")
    assert "no manifest named 'no_such_manifest'" in str(e.value)
    with pytest.raises(InputError):
        find_manifest(tmp_path / "missing.toml")


def test_shipped_manifests_are_found_from_anywhere_and_write_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(MANIFEST_DIR_ENV, raising=False)
    monkeypatch.chdir(REPO)
    in_checkout = load_manifest("demo")
    assert in_checkout.resolve(in_checkout.embeddings.store).resolve() == REPO / "build" / "stores" / "demo"

    monkeypatch.chdir(tmp_path)  # no manifests/ here: the shipped one, its inputs where they ship
    elsewhere = load_manifest("demo")
    assert elsewhere.path == (REPO / "manifests" / "demo.toml").resolve() and elsewhere.root == SAMPLE.resolve()
    assert elsewhere.resolve(elsewhere.embeddings.store) == tmp_path / "build" / "stores" / "demo"
    with pytest.raises(InputError) as e:
        find_manifest("no_such_manifest")
    assert str(tmp_path / "manifests") in str(e.value) and str(REPO / "manifests") in str(e.value)
