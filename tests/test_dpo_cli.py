"""``prover-data train-dpo`` in a real subprocess, on a tiny manifest, build and model."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.test_dpo import tiny_model, write_build

ONE_THREAD = {"OMP_NUM_THREADS": "1"}

MANIFEST = """
name = "tiny_dpo"

[sources]
trajectories = ["trajectories/*.parquet"]   # not read by train-dpo

[train.dpo]
base_model = "{model}"
lora_r = 8
lora_alpha = 16
beta = {beta}
learning_rate = 5e-3
lr_schedule = "constant"
max_steps = 40
batch_size = 4
grad_accum = 2
max_seq_len = 128
eval_every = 3
save_every = 3
log_every = 2
gradient_checkpointing = false
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dpo_cli")
    write_build(root / "build" / "tiny_dpo")
    model = tiny_model(root / "model")
    (root / "tiny_dpo.toml").write_text(MANIFEST.format(model=model, beta=0.1))
    (root / "bad_beta.toml").write_text(MANIFEST.format(model=model, beta=-1).replace("tiny_dpo", "bad_beta"))
    return root


def train_dpo(project, *args, manifest="tiny_dpo"):
    return run_cli("train-dpo", str(project / f"{manifest}.toml"), "--build-dir", str(project / "build"),
                   "--device", "cpu", *args, env=ONE_THREAD)


def test_smoke_run_json_then_resume(project):
    out = project / "runs" / "dpo"
    first = train_dpo(project, "--out", str(out), "--max-steps", "6", "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)  # stdout holds the JSON document and nothing else
    assert summary["steps"] == 6 and summary["train_pairs"] == 48 and summary["val_pairs"] == 16
    assert set(summary["final_eval"]) >= {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
                                          "rewards/accuracies"}
    assert [(r["kind"], r["step"]) for r in summary["progress"]][:3] == [("eval", 0), ("train", 2), ("eval", 3)]
    assert (out / "checkpoint-6" / "dpo_run.json").is_file() and (out / "metrics.jsonl").is_file()

    again = train_dpo(project, "--out", str(out), "--steps", "9", "--resume", "auto")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("## DPO (LoRA, beta 0.1)")
    assert "| Step | Split | Loss | Chosen reward | Rejected reward | Margin | Accuracy | Token efficiency |" \
        in again.stdout and "**Batching**: grouped; token efficiency" in again.stdout
    assert "| 8 | train |" in again.stdout and "**Final eval** (step 9)" in again.stdout


@pytest.mark.parametrize("args, manifest, message", [
    (("--build-dir", "nowhere"), "tiny_dpo", "preferences_train.parquet: no such file"),
    (("--from", "runs/no_such_sft"), "tiny_dpo", "--from"),
    ((), "bad_beta", "train.dpo.beta"),
])
def test_bad_input_exits_2_and_writes_nothing(project, args, manifest, message):
    out = project / "runs" / f"none_{manifest}_{len(args)}"
    proc = train_dpo(project, "--out", str(out), *args, manifest=manifest)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
