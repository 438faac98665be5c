"""Reliability of builds: bad inputs, kill -9, concurrent builds, leakage, determinism.

The full-size trials (every bad input, 20+ kills) run in benchmarks/reliability.py;
these are the same trials at a size CI can afford.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prover_data.build.stages import build
from prover_data.manifest import load_manifest
from prover_data.synth import generate
from tests.bad_inputs import CASES, write_trajectory
from tests.conftest import REPO, run_cli
from tests.crash_trials import build_is_intact, concurrent_builds, crash_trials, snapshot

DEMO = str(REPO / "manifests" / "demo.toml")


def _manifest_over(tmp_path: Path, trajectory: Path) -> Path:
    m = tmp_path / "m.toml"
    m.write_text(f'name = "bad"\n[sources]\ntrajectories = ["{trajectory.name}"]\n')
    return m


@pytest.mark.parametrize("case", [c for c in CASES if c.suffix == ".parquet" and "embedding" not in c.name][:8],
                         ids=lambda c: c.name)
def test_bad_trajectory_fails_the_build_with_nothing_written(case, tmp_path):
    bad = case.make(tmp_path / "t.parquet")
    manifest = _manifest_over(tmp_path, bad)
    proc = run_cli("build-manifest", str(manifest), "--build-dir", str(tmp_path / "build"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr and case.expect in proc.stderr
    assert not (tmp_path / "build" / "bad").exists()
    assert not [p for p in (tmp_path / "build").glob("*") if not p.name.endswith(".lock")]


def test_kill_9_during_build_keeps_the_previous_build(tmp_path):
    trials = crash_trials(DEMO, tmp_path, trials=3, seed=1)
    assert all(t.clean for t in trials), trials


def test_two_builds_at_once_one_wins_cleanly(tmp_path):
    assert run_cli("build-manifest", DEMO, "--build-dir", str(tmp_path)).returncode == 0
    trial = concurrent_builds(DEMO, tmp_path)
    assert trial.clean, trial
    waited = concurrent_builds(DEMO, tmp_path, wait=True)
    assert waited.codes == (0, 0) and waited.intact


@pytest.fixture(scope="module")
def small_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("root") / "data"
    generate(root, scale=0.004, seed=5)
    return root


def _iter4(root: Path):
    return load_manifest(REPO / "manifests" / "iter_4.toml", data_root=root)


def test_shuffled_input_rows_give_identical_outputs(small_root, tmp_path):
    a = build(_iter4(small_root), tmp_path / "a").out_dir
    shuffled = tmp_path / "shuffled"
    shutil.copytree(small_root, shuffled)
    rng = random.Random(0)
    for path in (shuffled / "trajectories").glob("*.parquet"):
        table = pq.read_table(path)
        order = list(range(table.num_rows))
        rng.shuffle(order)
        pq.write_table(table.take(order), path)
    b = build(_iter4(shuffled), tmp_path / "b").out_dir
    for name in ("sft_train", "sft_val", "contrastive_train", "contrastive_val", "states"):
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes(), name
    # the report differs only where it states the input files' sizes in bytes
    sizes = lambda text: [l for l in text.splitlines() if not (" KB" in l or " MB" in l)]  # noqa: E731
    assert sizes((a / "report.md").read_text()) == sizes((b / "report.md").read_text())


def test_two_builds_are_byte_identical(small_root, tmp_path):
    a = build(_iter4(small_root), tmp_path / "a").out_dir
    b = build(_iter4(small_root), tmp_path / "b").out_dir
    assert snapshot(a) == snapshot(b)
    assert build_is_intact(a)


# ----------------------------------------------------------------------------- leakage


@st.composite
def forests(draw):
    """Random search forests: theorems with trees, labels and repeated states."""
    n_theorems = draw(st.integers(2, 12))
    pool = [f"⊢ s{i}" for i in range(draw(st.integers(3, 30)))]
    rows = {k: [] for k in ("theorem_name", "state_id", "state_pp", "tactic_applied", "parent_state_id", "label",
                            "depth_from_root", "remaining_depth", "llm_log_prob", "ebm_score", "is_proof_complete",
                            "timestamp_ms", "q_value", "visits")}
    for t in range(n_theorems):
        n = draw(st.integers(1, 10))
        depth = [0]
        for i in range(n):
            parent = None if i == 0 else draw(st.integers(0, i - 1))
            d = 0 if parent is None else depth[parent] + 1
            if i:
                depth.append(d)
            rows["theorem_name"].append(f"thm_{t}")
            rows["state_id"].append(i)
            rows["state_pp"].append(draw(st.sampled_from(pool)))
            rows["tactic_applied"].append("" if i == 0 else draw(st.sampled_from(["simp", "ring", "omega"])))
            rows["parent_state_id"].append(parent)
            rows["label"].append(draw(st.sampled_from(["positive", "negative", "unknown"])))
            rows["depth_from_root"].append(d)
            rows["remaining_depth"].append(-1)
            rows["llm_log_prob"].append(-1.0)
            rows["ebm_score"].append(0.0)
            rows["is_proof_complete"].append(False)
            rows["timestamp_ms"].append(i)
            rows["q_value"].append(0.0)
            rows["visits"].append(0)
    return rows


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(forest=forests(), val_fraction=st.floats(0.2, 0.8), seed=st.integers(0, 1000))
def test_no_theorem_in_both_splits(forest, val_fraction, seed, tmp_path_factory):
    d = tmp_path_factory.mktemp("forest")
    write_trajectory(d / "t.parquet", forest)
    (d / "m.toml").write_text(f'name = "f"\n[sources]\ntrajectories = ["t.parquet"]\n'
                              f"[split]\nval_fraction = {val_fraction}\nseed = {seed}\n")
    out = build(load_manifest(d / "m.toml"), d / "build").out_dir
    for kind in ("sft", "contrastive"):
        train = set(pq.read_table(out / f"{kind}_train.parquet").column("theorem_name").to_pylist())
        val = set(pq.read_table(out / f"{kind}_val.parquet").column("theorem_name").to_pylist())
        assert not train & val


def test_kill_9_during_embed_and_two_embeds_into_one_new_store(tmp_path):
    from tests.embed_trials import embed_concurrency_trials, embed_crash_trials

    crashes = embed_crash_trials(tmp_path / "crash", 1, seed=1)
    assert all(t.clean for t in crashes), [t.notes for t in crashes]
    together = embed_concurrency_trials(tmp_path / "conc", 2)
    assert all(t.clean for t in together), [t.notes for t in together]
