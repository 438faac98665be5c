"""``torchrun --nproc_per_node 2 -m prover_data train-sft``: two CPU processes under gloo.

Each rank computes half of every step's micro-batches; the loss curve must be a lone
process's with the same global batch, and a resumed two-process run must continue
exactly. Real subprocesses, real torchrun, the tiny model of ``tests.test_sft_cli``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from prover_models.data import format_prompt
from prover_models.tiny_llama import build_tiny_llama
from tests.conftest import REPO, run_cli
from tests.test_sft import make_pairs
from tests.test_sft_cli import MANIFEST, ONE_THREAD


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft_ddp")
    build = root / "build" / "tiny_sft"
    build.mkdir(parents=True)
    train = make_pairs(48, 5)
    pq.write_table(train, build / "sft_train.parquet")
    pq.write_table(make_pairs(16, 6), build / "sft_val.parquet")
    model = build_tiny_llama(root / "model", [format_prompt(r["state_pp"]) + r["tactic"] for r in train.to_pylist()])
    text = MANIFEST.format(base_model=f'base_model = "{model}"').replace("log_every = 2", "log_every = 1")
    # no dropout where curves are compared: each process draws its own masks
    (root / "tiny_sft.toml").write_text(text.replace("lora_r = 8", "lora_r = 8\nlora_dropout = 0.0")
                                        .replace("eval_every = 3", "eval_every = 4"))
    (root / "dropout.toml").write_text(text.replace("lora_r = 8", "lora_r = 8\nlora_dropout = 0.1")
                                       .replace("eval_every = 3", "eval_every = 4").replace("tiny_sft", "dropout"))
    (build.parent / "dropout").symlink_to(build)
    return root


def torchrun(project, manifest: str, out: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "prover_data", "train-sft", str(project / manifest), "--build-dir", str(project / "build"),
           "--out", str(project / out), "--device", "cpu", *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**__import__("os").environ, **ONE_THREAD})


def records(path, kind):
    return [r for r in map(json.loads, (path / "log.jsonl").read_text().splitlines()) if r["kind"] == kind]


def test_two_processes_follow_one_processs_loss_curve(project):
    alone = run_cli("train-sft", str(project / "tiny_sft.toml"), "--build-dir", str(project / "build"),
                    "--out", str(project / "one"), "--max-steps", "8", "--device", "cpu", "--json", env=ONE_THREAD)
    assert alone.returncode == 0, alone.stderr
    pair = torchrun(project, "tiny_sft.toml", "two", "--max-steps", "8", "--json")
    assert pair.returncode == 0, pair.stderr
    summary = json.loads(pair.stdout)  # one JSON document: rank 1 printed nothing
    assert summary["processes"] == 2 and summary["steps"] == 8

    one, two = project / "one", project / "two"
    for kind in ("train", "eval"):
        a, b = records(one, kind), records(two, kind)
        assert [r["step"] for r in a] == [r["step"] for r in b] and len(a) >= 2
        assert [r["loss"] for r in b] == pytest.approx([r["loss"] for r in a], rel=1e-5)
    grads = [r["grad_norm"] for r in records(one, "train")]
    assert [r["grad_norm"] for r in records(two, "train")] == pytest.approx(grads, rel=1e-4)
    wa = load_file(one / "adapter" / "adapter_model.safetensors")
    wb = load_file(two / "adapter" / "adapter_model.safetensors")
    assert all(torch.allclose(wa[k], wb[k], rtol=1e-4, atol=1e-6) for k in wa)
    assert json.loads(alone.stdout)["token_efficiency"] == summary["token_efficiency"]


def test_a_resumed_two_process_run_continues_exactly(project):
    whole = torchrun(project, "dropout.toml", "whole", "--max-steps", "6")
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.count("## LLM Fine-tuning (LoRA)") == 1  # rank 0's report alone
    resumed = torchrun(project, "dropout.toml", "resumed", "--max-steps", "6",
                       "--resume", str(project / "whole" / "checkpoint-3"))
    assert resumed.returncode == 0, resumed.stderr
    state = torch.load(project / "whole" / "checkpoint-3" / "trainer_state.pt", weights_only=True)
    assert len(state["rng_ranks"]) == 2 and not torch.equal(state["rng_ranks"][0]["cpu"], state["rng_ranks"][1]["cpu"])
    a = load_file(project / "whole" / "adapter" / "adapter_model.safetensors")
    b = load_file(project / "resumed" / "adapter" / "adapter_model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)  # bitwise: dropout masks of both ranks restored
    for kind in ("train", "eval"):
        assert records(project / "resumed", kind) == records(project / "whole", kind)


def test_grad_accum_must_split_evenly_over_the_processes(project):
    text = (project / "tiny_sft.toml").read_text().replace("grad_accum = 2", "grad_accum = 3")
    (project / "odd.toml").write_text(text.replace("tiny_sft", "odd"))
    (project / "build" / "odd").symlink_to(project / "build" / "tiny_sft")
    proc = torchrun(project, "odd.toml", "odd", "--max-steps", "2")
    assert proc.returncode != 0
    assert "train.sft.grad_accum" in proc.stderr and "not a multiple of the 2 processes" in proc.stderr
    assert not (project / "odd" / "checkpoint-2").exists()
