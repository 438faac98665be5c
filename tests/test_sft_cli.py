"""``prover-data train-sft`` in a real subprocess, on a tiny manifest, build and model."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from prover_models.data import format_prompt
from prover_models.tiny_llama import build_tiny_llama
from tests.conftest import run_cli
from tests.test_sft import make_pairs

ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # tiny matrices: one thread is fastest on a shared 2-core box

MANIFEST = """
name = "tiny_sft"

[sources]
trajectories = ["trajectories/*.parquet"]   # not read by train-sft

[train.sft]
{base_model}
lora_r = 8
lora_alpha = 16
learning_rate = 1e-2
max_steps = 40
batch_size = 4
grad_accum = 2
max_seq_len = 128
eval_every = 3
eval_examples = 8
save_every = 3
log_every = 2
gradient_checkpointing = false
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft_cli")
    build = root / "build" / "tiny_sft"
    build.mkdir(parents=True)
    train = make_pairs(48, 3)
    pq.write_table(train, build / "sft_train.parquet")
    pq.write_table(make_pairs(16, 4), build / "sft_val.parquet")
    model = build_tiny_llama(root / "model", [format_prompt(r["state_pp"]) + r["tactic"] for r in train.to_pylist()])
    (root / "tiny_sft.toml").write_text(MANIFEST.format(base_model=f'base_model = "{model}"'))
    (root / "default_model.toml").write_text(MANIFEST.format(base_model="").replace("tiny_sft", "default_model"))
    return root


def test_smoke_run_then_resume(project):
    out = project / "runs" / "sft"
    first = run_cli("train-sft", str(project / "tiny_sft.toml"), "--build-dir", str(project / "build"),
                    "--out", str(out), "--max-steps", "6", "--device", "cpu", "--json", env=ONE_THREAD)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)  # stdout holds the JSON document and nothing else
    assert summary["steps"] == 6 and summary["train_pairs"] == 48 and summary["val_pairs"] == 16
    assert summary["trainable"].endswith("%)") and summary["trainable_params"] > 0
    assert summary["final_eval_loss"] > 0 and summary["final_trajectory_eval_loss"] > 0
    assert [r["step"] for r in summary["progress"]] == [2, 4, 6]
    assert (out / "checkpoint-6" / "adapter_model.safetensors").is_file() and (out / "loss.png").is_file()

    again = run_cli("train-sft", str(project / "tiny_sft.toml"), "--build-dir", str(project / "build"),
                    "--out", str(out), "--max-steps", "9", "--resume", "auto", "--device", "cpu", env=ONE_THREAD)
    assert again.returncode == 0, again.stderr
    assert "resuming with max_steps 9" in again.stderr
    text = again.stdout
    assert text.startswith("## LLM Fine-tuning (LoRA)")
    assert "**Resumed** from" in text and "checkpoint-6" in text
    assert "| Step | Epoch | Train Loss | Grad Norm | Learning Rate |" in text
    assert "| 8 | 1.33 |" in text and "Final trajectory eval loss" in text
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-6", "checkpoint-9"]


def test_missing_model_is_a_clear_error_not_a_download(project):
    proc = run_cli("train-sft", str(project / "default_model.toml"), "--build-dir", str(project / "build"),
                   "--out", str(project / "runs" / "none"), "--device", "cpu",
                   env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(project / "empty_hf_home")})
    assert proc.returncode == 2
    assert "deepseek-ai/DeepSeek-Prover-V2-7B" in proc.stderr and "--model" in proc.stderr
    assert "Traceback" not in proc.stderr and not (project / "runs" / "none").exists()  # nothing written


def test_help_has_examples():
    proc = run_cli("train-sft", "--help")
    assert proc.returncode == 0 and "Examples:" in proc.stdout and "--resume auto" in proc.stdout


def test_max_steps_caps_the_manifests_warmup_and_a_resume_follows_the_new_horizon(project):
    text = (project / "tiny_sft.toml").read_text().replace("max_steps = 40", "max_steps = 40\nwarmup_steps = 100")
    text = text.replace("log_every = 2", "log_every = 1").replace("eval_every = 3", "eval_every = 100")
    (project / "warm_sft.toml").write_text(text.replace("save_every = 3", "save_every = 100"))
    out = project / "runs" / "warm"
    args = ("train-sft", str(project / "warm_sft.toml"), "--build-dir", str(project / "build"), "--out", str(out),
            "--device", "cpu", "--json")
    first = run_cli(*args, "--max-steps", "20", env=ONE_THREAD)
    assert first.returncode == 0, first.stderr
    assert "train.sft.warmup_steps = 100 is more than 10% of this 20-step run (--max-steps 20); " \
           "using warmup_steps = 2" in first.stderr
    assert json.loads(first.stdout)["warmup_steps"] == 2
    lrs = [r["lr"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if r["kind"] == "train"]
    assert len(lrs) == 20
    assert lrs[:3] == pytest.approx([0.0, 5e-3, 1e-2])  # transformers' warmup from 0 to the peak ...
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:])) and lrs[-1] < 1e-3  # ... then the cosine

    # The checkpoint keeps the manifest's warmup_steps: a longer --max-steps resumes under its own cap.
    again = run_cli(*args, "--max-steps", "30", "--resume", "auto", env=ONE_THREAD)
    assert again.returncode == 0, again.stderr
    assert "using warmup_steps = 3" in again.stderr and json.loads(again.stdout)["steps"] == 30
