"""The SFT run directory's ``checkpoint-STEP/`` directories: what they hold, and which
one an explicit ``--resume PATH`` may continue (``prover_models.resume`` reads ``--resume``).

A checkpoint is a usable peft adapter plus ``trainer_state.pt``: AdamW's state, the
log so far, the settings and input digests it must be resumed under, and the RNG
state of every rank (dropout masks are each rank's own draws). Data order needs no
state: it is a pure function of (seed, step) (``prover_models.batching``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from prover_data.atomic import atomic_dir
from prover_data.errors import InputError, Problem

STATE_FILE = "trainer_state.pt"
LOG_FILE = "log.jsonl"  # the run's records (prover_models.run_log)

# Settings that shape the weights: a checkpoint resumes only under the same values.
# max_steps may change (the schedule's horizon moves from the resumed step on), and so
# may the eval, logging and saving cadence, activation checkpointing, the attention
# implementation and the number of processes.
RESUME_MUST_MATCH = (
    "lora_r", "lora_alpha", "lora_dropout", "lora_bias", "target_modules", "learning_rate",
    "lr_schedule", "warmup_steps", "batch_size", "grad_accum", "max_seq_len", "seed",
    "weight_decay", "grad_clip", "dtype", "batching",
)
# Settings that shape the data order under one batching only.
BATCHING_MUST_MATCH = {"grouped": ("group_window",), "packed": ("max_tokens",), "random": ()}
# What a checkpoint written before a setting existed was trained with.
BEFORE_THE_SETTING = {"batching": "random"}


def checkpoints(out_dir: Path) -> list[Path]:
    """``checkpoint-STEP`` directories in ``out_dir``, oldest first."""
    return sorted((p for p in Path(out_dir).glob("checkpoint-*") if _step_of(p) is not None), key=_step_of)


def _step_of(path: Path) -> int | None:
    digits = path.name.removeprefix("checkpoint-")
    return int(digits) if path.name.startswith("checkpoint-") and digits.isdigit() else None


def rng_state() -> dict:
    """This process's RNG state (CPU, and every CUDA device it sees)."""
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def save_checkpoint(out_dir: Path, step: int, model, optimizer, state: dict, keep: int,
                    rngs: list[dict] | None = None) -> Path:
    """Write ``checkpoint-STEP`` (``rngs``: every rank's ``rng_state()``, rank 0's first)."""
    rngs = rngs or [rng_state()]
    final = out_dir / f"checkpoint-{step}"
    with atomic_dir(final) as tmp:
        model.save_pretrained(tmp)  # adapter_config.json + adapter_model.safetensors
        torch.save({**state, "step": step, "optimizer": optimizer.state_dict(), "rng": rngs[0], "rng_ranks": rngs},
                   tmp / STATE_FILE)
    if keep:
        for old in checkpoints(out_dir)[:-keep]:
            trash = old.parent / f".{old.name}.deleting"
            shutil.rmtree(trash, ignore_errors=True)  # left by a deletion that was cut short
            os.replace(old, trash)  # gone from checkpoints() at once, even if rmtree is cut short
            shutil.rmtree(trash)
    return final


def load_checkpoint(path: Path, model, optimizer, meta: dict, file: str, rank: int = 0) -> dict:
    """Restore adapter, optimizer and this rank's RNG from ``path``; return its saved trainer state.

    The state gains ``rng_restored``: False when the checkpoint holds no RNG state for
    this rank (it was written by fewer processes), whose dropout then draws afresh.
    """
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    state_file = path / STATE_FILE
    if not state_file.is_file():
        raise InputError.one(str(path), f"not a checkpoint of this trainer (no {STATE_FILE})")
    state = torch.load(state_file, map_location="cpu", weights_only=True)
    problems = _mismatches(state["meta"]["config"], meta["config"], path, file)
    for k, what in (("train_digest", "sft_train.parquet"), ("val_digest", "sft_val.parquet"),
                    ("model_digest", "the base model's config.json")):
        if state["meta"][k] != meta[k]:
            problems.append(Problem(str(path), f"{what} differs from the one this checkpoint was trained on"))
    if problems:
        raise InputError(problems)
    weights = load_file(path / "adapter_model.safetensors")
    unexpected = set_peft_model_state_dict(model, weights).unexpected_keys
    if unexpected:
        raise InputError.one(str(path), f"adapter weights that this model does not have: {unexpected[:3]}")
    optimizer.load_state_dict(state["optimizer"])
    rngs = state.get("rng_ranks", [state["rng"]])
    state["rng_restored"] = rank < len(rngs)
    if state["rng_restored"]:
        torch.set_rng_state(rngs[rank]["cpu"])
        if torch.cuda.is_available() and rngs[rank]["cuda"]:
            torch.cuda.set_rng_state_all(rngs[rank]["cuda"])
    return state


def _mismatches(saved: dict, now: dict, path: Path, file: str) -> list[Problem]:
    keys = RESUME_MUST_MATCH + BATCHING_MUST_MATCH[now["batching"]]
    return [Problem(file, f"the checkpoint {path.name} was trained with {saved.get(k, BEFORE_THE_SETTING.get(k))!r}, "
                          f"this run has {now[k]!r}; resume under the same settings", key=f"train.sft.{k}")
            for k in keys if saved.get(k, BEFORE_THE_SETTING.get(k)) != now[k]]


def check_resume_path(path: Path, out_dir: Path) -> None:
    """Refuse an explicit ``--resume PATH`` that is no checkpoint directory, or one with newer
    checkpoints beside it in ``out_dir``: ``--resume auto`` would later mix the two runs."""
    if not path.is_dir():
        raise InputError.one(str(path), "no such checkpoint directory")
    newer = [p.name for p in checkpoints(out_dir) if _step_of(p) > (_step_of(path) or 0)]
    if newer and path.resolve().parent == out_dir.resolve():
        raise InputError.one(str(out_dir), f"holds checkpoints newer than {path.name} ({', '.join(newer)}); "
                                           "resume into another --out so --resume auto never mixes the two runs")
