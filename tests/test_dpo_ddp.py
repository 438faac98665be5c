"""``torchrun --nproc_per_node 2 -m prover_data train-dpo``: two CPU processes under gloo.

transformers' Trainer runs the two as DistributedDataParallel and hands each every other
micro-batch of a step; with ``grad_accum`` split between them the steps are a lone
process's, so the curves, the weights and the token counts must match it. Real
subprocesses, real torchrun, the tiny model and manifest of ``tests.test_dpo_cli``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import REPO, run_cli
from tests.test_dpo import tiny_model, write_build
from tests.test_dpo_cli import MANIFEST, ONE_THREAD


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dpo_ddp")
    write_build(root / "build" / "tiny_dpo")
    text = MANIFEST.format(model=tiny_model(root / "model"), beta=0.1)
    (root / "tiny_dpo.toml").write_text(text)
    (root / "odd.toml").write_text(text.replace("grad_accum = 2", "grad_accum = 3").replace("tiny_dpo", "odd"))
    (root / "build" / "odd").symlink_to(root / "build" / "tiny_dpo")
    # checkpoints on log steps: the Trainer restarts its loss average at a resumed step
    (root / "resume.toml").write_text(text.replace("save_every = 3", "save_every = 4").replace("tiny_dpo", "resume"))
    (root / "build" / "resume").symlink_to(root / "build" / "tiny_dpo")
    return root


def torchrun(project, manifest: str, out: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "prover_data", "train-dpo", str(project / manifest), "--build-dir", str(project / "build"),
           "--out", str(project / out), "--device", "cpu", *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, **ONE_THREAD})


def records(path, kind):
    return [r for r in map(json.loads, (path / "metrics.jsonl").read_text().splitlines()) if r["kind"] == kind]


def adapter(path):
    return load_file(path / "adapter" / "adapter_model.safetensors")


def test_two_processes_follow_one_processs_curve(project):
    alone = run_cli("train-dpo", str(project / "tiny_dpo.toml"), "--build-dir", str(project / "build"),
                    "--out", str(project / "one"), "--max-steps", "6", "--device", "cpu", "--json", env=ONE_THREAD)
    assert alone.returncode == 0, alone.stderr
    pair = torchrun(project, "tiny_dpo.toml", "two", "--max-steps", "6", "--json")
    assert pair.returncode == 0, pair.stderr
    summary, lone = json.loads(pair.stdout), json.loads(alone.stdout)  # one JSON document: rank 1 printed nothing
    assert summary["processes"] == 2 and summary["steps"] == 6 and summary["batching"] == "grouped"
    assert pair.stderr.count("trainable params") == 1

    one, two = project / "one", project / "two"
    for kind in ("train", "eval"):
        a, b = records(one, kind), records(two, kind)
        assert [r["step"] for r in a] == [r["step"] for r in b] and len(a) >= 2
        assert [r["loss"] for r in b] == pytest.approx([r["loss"] for r in a], rel=1e-5)
        assert [r["rewards/margins"] for r in b] == pytest.approx([r["rewards/margins"] for r in a], rel=1e-4, abs=1e-6)
    assert [r["grad_norm"] for r in records(two, "train")] == pytest.approx(
        [r["grad_norm"] for r in records(one, "train")], rel=1e-4)
    # the same pairs in the same micro-batches, counted over both processes
    assert [r["token_efficiency"] for r in records(two, "train")] == \
        [r["token_efficiency"] for r in records(one, "train")]
    assert (summary["real_tokens"], summary["computed_tokens"]) == (lone["real_tokens"], lone["computed_tokens"])
    wa, wb = adapter(one), adapter(two)
    assert all(torch.allclose(wa[k], wb[k], rtol=1e-4, atol=1e-6) for k in wa)
    assert sorted(p.name for p in two.glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-6"]
    assert (two / "checkpoint-6" / "dpo_run.json").is_file()


def test_a_resumed_two_process_run_continues_exactly(project):
    whole = torchrun(project, "resume.toml", "whole", "--max-steps", "9")
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.count("## DPO (LoRA, beta 0.1)") == 1  # rank 0's report alone
    # step 4 is inside the first epoch (6 steps): the resumed run skips its first 4 steps' batches
    resumed = torchrun(project, "resume.toml", "resumed", "--max-steps", "9",
                       "--resume", str(project / "whole" / "checkpoint-4"))
    assert resumed.returncode == 0, resumed.stderr
    a, b = adapter(project / "whole"), adapter(project / "resumed")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    for kind in ("train", "eval"):
        x, y = records(project / "whole", kind), records(project / "resumed", kind)
        assert [r["step"] for r in y] == [r["step"] for r in x]
        assert [r["loss"] for r in y] == pytest.approx([r["loss"] for r in x], rel=1e-5)
        assert [r.get("token_efficiency") for r in y] == [r.get("token_efficiency") for r in x]


def test_grad_accum_must_split_evenly_over_the_processes(project):
    proc = torchrun(project, "odd.toml", "odd", "--max-steps", "2")
    assert proc.returncode != 0
    assert "train.dpo.grad_accum" in proc.stderr and "multiple of the 2 processes" in proc.stderr
    assert not (project / "odd").exists()
