"""Every trainer logs through ``prover_models.run_log``: its JSON lines, and TensorBoard with ``--report-to``.

The event files are read back with TensorBoard's own ``EventAccumulator``, the reader
``tensorboard --logdir`` uses, so a test passes only when TensorBoard would show the
curves.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from prover_models.run_log import TENSORBOARD_DIR, RunLog


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Tag -> [(step, value)] of the run's TensorBoard events, as TensorBoard reads them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / TENSORBOARD_DIR))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- the log itself


def test_records_become_json_lines_and_tagged_scalars(tmp_path):
    with RunLog(tmp_path / "metrics.jsonl", [], report_to="tensorboard") as log:
        log.record(kind="start", trainable_params=10)
        log.record(kind="train", step=2, epoch=0.5, loss=1.5, lr=1e-3)
        log.record(kind="eval", split="subset", step=2, loss=1.25, examples=16)
        log.record(step=4, train_loss=0.75, note="text is not a scalar")
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("kind") for r in lines] == ["start", "train", "eval", None] and lines[1]["loss"] == 1.5
    got = scalars(tmp_path)
    assert set(got) == {"train/epoch", "train/loss", "train/lr", "eval/subset/loss", "eval/subset/examples",
                        "train_loss"}
    assert got["train/loss"] == [(2, 1.5)] and got["eval/subset/loss"] == [(2, 1.25)] and got["train_loss"] == [(4, 0.75)]


def test_a_resumed_log_drops_what_the_killed_run_wrote_after_its_checkpoint(tmp_path):
    kept = [{"kind": "train", "step": s, "loss": float(s)} for s in (1, 2)]
    with RunLog(tmp_path / "metrics.jsonl", list(kept), report_to="tensorboard") as log:
        for s in (1, 2, 3, 4):  # steps 3 and 4 were written after the checkpoint at step 2
            log.record(kind="train", step=s, loss=float(s))
    with RunLog(tmp_path / "metrics.jsonl", list(kept), report_to="tensorboard") as log:  # resumed from step 2
        log.record(kind="train", step=3, loss=30.0)
    assert [json.loads(x)["loss"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1.0, 2.0, 30.0]
    assert scalars(tmp_path)["train/loss"] == [(1, 1.0), (2, 2.0), (3, 30.0)]


def test_without_report_to_no_event_file_is_written(tmp_path):
    with RunLog(tmp_path / "metrics.jsonl", []) as log:
        log.record(kind="train", step=1, loss=1.0)
    assert not (tmp_path / TENSORBOARD_DIR).exists()


# --------------------------------------------------------------------------- each trainer


def test_train_sft_reports_to_tensorboard(tmp_path):
    from prover_data.manifest import SFTTrainer
    from prover_models import sft
    from prover_models.data import format_prompt
    from prover_models.tiny_llama import build_tiny_llama
    from tests.test_sft import make_pairs

    build = tmp_path / "build"
    build.mkdir()
    pq.write_table(make_pairs(16, 1), build / "sft_train.parquet")
    pq.write_table(make_pairs(8, 2), build / "sft_val.parquet")
    model = build_tiny_llama(tmp_path / "model", [format_prompt(r["state_pp"]) + r["tactic"]
                                                  for r in make_pairs(16, 1).to_pylist()])

    cfg = SFTTrainer(base_model=str(model), lora_r=4, lora_alpha=8, max_steps=4, batch_size=2, grad_accum=1,
                     max_seq_len=96, eval_every=2, eval_examples=4, save_every=4, log_every=2,
                     gradient_checkpointing=False)
    result = sft.train(cfg, train_path=build / "sft_train.parquet", val_path=build / "sft_val.parquet",
                       out_dir=tmp_path / "run", say=lambda _: None, report_to="tensorboard")
    got = scalars(tmp_path / "run")
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [s for s, _ in got["train/loss"]] == [2, 4]
    assert [v for _, v in got["train/loss"]] == pytest.approx([r["loss"] for r in log if r["kind"] == "train"])
    assert [s for s, _ in got["eval/subset/loss"]] == [2, 4] and got["eval/full/loss"][0][0] == 4
    assert result.summary["steps"] == 4


def test_train_dpo_reports_to_tensorboard(tmp_path):
    from prover_models import dpo
    from tests.test_dpo import config, tiny_model, write_build

    write_build(tmp_path / "build", train_rows=16, val_rows=8)
    tiny = {"model": tiny_model(tmp_path / "model")}
    cfg = config(tiny, max_steps=4, eval_every=2, save_every=4, log_every=2, batch_size=2, grad_accum=1)
    dpo.train(cfg, train_path=tmp_path / "build" / "preferences_train.parquet",
              val_path=tmp_path / "build" / "preferences_val.parquet", out_dir=tmp_path / "run", say=lambda _: None,
              report_to="tensorboard")
    got = scalars(tmp_path / "run")
    assert [s for s, _ in got["train/loss"]] == [2, 4]
    assert [s for s, _ in got["eval/rewards/margins"]] == [0, 2, 4]  # TRL's names, step 0's evaluation first


def test_train_ebm_reports_to_tensorboard(tmp_path):
    from prover_models import ebm
    from prover_models.data import ContrastiveSamples
    from tests.test_ebm import SMALL, K, contrastive_table, planted

    pos, neg, emb = planted(tmp_path, n_pos=60, n_neg=180)
    pq.write_table(contrastive_table(pos[:48], neg[:140], 96, seed=1), tmp_path / "train.parquet")
    pq.write_table(contrastive_table(pos[48:], neg[140:], 32, seed=2), tmp_path / "val.parquet")
    train, val = (ContrastiveSamples(tmp_path / f"{s}.parquet", emb, k=K) for s in ("train", "val"))
    summary = ebm.train(dataclasses.replace(SMALL, steps=20), train, val, tmp_path / "run", report_to="tensorboard")
    got = scalars(tmp_path / "run")
    assert [s for s, _ in got["train_loss"]] == [r["step"] for r in summary.log] == [0, 10, 19]
    assert [v for _, v in got["val_loss"]] == pytest.approx([r["val_loss"] for r in summary.log])


def test_train_chargpt_reports_to_tensorboard(tmp_path):
    from prover_data.certificates.corpus import export
    from prover_data.manifest import load_manifest
    from prover_models.chargpt.train import train
    from tests.test_chargpt import _manifest

    manifest = load_manifest(_manifest(tmp_path, epochs=1))
    export(manifest, tmp_path / "certificates")
    summary = train(manifest, tmp_path / "certificates", tmp_path / "run", device="cpu", log=lambda _: None,
                    report_to="tensorboard")
    got = scalars(tmp_path / "run")
    assert got["epoch/val_loss"] == [(summary["steps_done"], pytest.approx(summary["last"]["val_loss"]))]
    assert [s for s, _ in got["step/train_loss"]] == list(range(2, summary["steps_done"] + 1, 2))


@pytest.mark.parametrize("command", ["train-sft", "train-dpo", "train-ebm", "train-chargpt"])
def test_every_train_command_offers_report_to(command):
    proc = subprocess.run([sys.executable, "-m", "prover_data", command, "--help"], capture_output=True, text=True,
                          check=True)
    assert "--report-to [none|tensorboard]" in proc.stdout

