"""LoRA supervised fine-tuning of a causal LM on a build's (state, tactic) pairs.

Reads a manifest's ``[train.sft]`` (``prover_data.manifest.SFTTrainer``) and
``build/NAME/sft_train.parquet`` / ``sft_val.parquet``, and trains a LoRA adapter
(peft) on a Hugging Face causal LM, as BurnQED's ``train_llm.py`` did for iteration 4:
DeepSeek-Prover-V2-7B, r 32, alpha 64, dropout 0.05, all seven projections, lr 3e-5
cosine, 12,000 steps of 4 x 5 pairs.

The run, top to bottom (``train``):

* Each pair is ``data.PROMPT_TEMPLATE`` (the DeepSeek-Prover tactic-state prompt)
  followed by the tactic; only tactic tokens carry loss (``data.encode_pair`` says how
  and why).
* An optimizer step takes ``batch_size x grad_accum`` pairs. Its loss is the mean over
  all their tactic tokens, so splitting a step into micro-batches does not change it.
* Data order is a pure function of (seed, step) (``data.batch_indices``): pair number
  ``g`` of the run is position ``g mod N`` of epoch ``g div N``'s seeded permutation. A
  resumed run needs no data-loader state and sees exactly the batches of an
  uninterrupted one.
* The learning rate is a pure function of the step (``learning_rate``), the same
  curve as transformers' warmup + cosine schedule; it has no state to save.
* Every ``eval_every`` steps: the loss on a fixed subset of ``eval_examples`` val pairs
  chosen by content hash and seed. At the end: the loss on the whole val set and on its
  trajectory pairs alone (``source != 'base'``), the report's two final figures.
* Every ``save_every`` steps, and at the end, ``checkpoint-STEP/``: the adapter (a
  usable peft adapter), AdamW's state, the RNG states, the log so far. Resuming from it
  continues bit for bit (on CPU; CUDA kernels are not all deterministic).

A plain torch loop rather than ``transformers.Trainer``: every rule above is visible in
this one file, and resume is exact by construction instead of by replaying a data
loader up to the saved step.

Deliberate differences from BurnQED:

* No sequence packing. BurnQED concatenated pairs into 2,048-token chunks with no
  attention boundary, so a pair attended to its neighbours; here each pair is its own
  padded sequence. An "epoch" therefore counts pairs: 12,000 steps x 20 pairs are 1.8
  passes over 131,623 pairs, where BurnQED's packed chunks made them 5.1. Compare runs
  by step.
* Loss is token-weighted over the whole step and over the whole eval set.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from prover_data.atomic import atomic_dir, atomic_file, atomic_write_text, exclusive
from prover_data.errors import InputError, Problem
from prover_data.identity import bytes_digest, file_digest
from prover_data.manifest import SFTTrainer
from prover_models.data import IGNORE_INDEX, SFTPairs, batch_indices, pad_sft_batch
from prover_models.schedule import cap_warmup

STATE_FILE = "trainer_state.pt"
LOG_FILE = "log.jsonl"

# Settings that shape the weights: a checkpoint resumes only under the same values.
# max_steps may change (the schedule's horizon moves from the resumed step on), and so
# may the eval, logging and saving cadence and activation checkpointing.
RESUME_MUST_MATCH = (
    "lora_r", "lora_alpha", "lora_dropout", "lora_bias", "target_modules", "learning_rate",
    "lr_schedule", "warmup_steps", "batch_size", "grad_accum", "max_seq_len", "seed",
    "weight_decay", "grad_clip", "dtype",
)


@dataclass
class Result:
    summary: dict[str, Any]  # figures of the run, JSON-ready (also in OUT/summary.json)
    model: Any  # the trained peft model, in memory


# --------------------------------------------------------------------------- settings


def check_config(cfg: SFTTrainer, file: str = "[train.sft]") -> None:
    """Reject settings that cannot train, naming the manifest key."""
    rules = [
        ("lora_r", cfg.lora_r >= 1, "at least 1"),
        ("lora_alpha", cfg.lora_alpha > 0, "a positive number"),
        ("lora_dropout", 0.0 <= cfg.lora_dropout < 1.0, "in [0, 1)"),
        ("target_modules", len(cfg.target_modules) > 0, "at least one module name"),
        ("learning_rate", cfg.learning_rate > 0, "a positive number"),
        ("warmup_steps", cfg.warmup_steps >= 0, "a non-negative count"),
        ("max_steps", cfg.max_steps >= 1, "at least 1"),
        ("batch_size", cfg.batch_size >= 1, "at least 1"),
        ("grad_accum", cfg.grad_accum >= 1, "at least 1"),
        ("max_seq_len", cfg.max_seq_len >= 2, "at least 2"),
        ("eval_every", cfg.eval_every >= 1, "at least 1"),
        ("eval_examples", cfg.eval_examples >= 1, "at least 1"),
        ("save_every", cfg.save_every >= 1, "at least 1"),
        ("log_every", cfg.log_every >= 1, "at least 1"),
        ("weight_decay", cfg.weight_decay >= 0, "a non-negative number"),
        ("grad_clip", cfg.grad_clip > 0, "a positive number"),
        ("keep_checkpoints", cfg.keep_checkpoints >= 0, "a non-negative count (0 keeps all)"),
    ]
    problems = [Problem(file, f"expected {want}, got {getattr(cfg, key)!r}", key=f"train.sft.{key}")
                for key, ok, want in rules if not ok]
    if problems:
        raise InputError(problems)


def resolve_model(name: str, file: str = "[train.sft]") -> Path:
    """A local model directory: ``name`` itself, or its snapshot in the local HF cache.

    Training never downloads: a 7B model is fetched once, deliberately, not as a side
    effect of a training command on a cluster node.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError.one(str(path), "not a Hugging Face model directory (no config.json)")
        return path.resolve()
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not cached, or not a valid repo id: both mean "not here"
        raise InputError.one(
            file,
            f"base model {name!r} is not a local directory and not in the local Hugging Face "
            "cache; nothing is downloaded during training. Fetch it once where there is "
            f"network (`huggingface-cli download {name}`), or point at a local copy with "
            "--model /path/to/model or [train.sft] base_model = \"/path/to/model\"",
            key="train.sft.base_model",
        ) from None


def resolve_dtype(cfg: SFTTrainer, device: str) -> torch.dtype:
    if cfg.dtype == "auto":
        cuda_bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[cfg.dtype]


# --------------------------------------------------------------------------- model


def load_model(model_dir: Path, cfg: SFTTrainer, device: str, file: str = "[train.sft]"):
    """The base causal LM with fresh LoRA adapters on ``target_modules``; only they train."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=resolve_dtype(cfg, device), local_files_only=True)
    present = {name.rsplit(".", 1)[-1] for name, _ in base.named_modules()}
    missing = [m for m in cfg.target_modules if m not in present]
    if missing:
        raise InputError.one(file, f"modules {missing} are not in {model_dir} ({type(base).__name__})",
                             key="train.sft.target_modules")
    if cfg.gradient_checkpointing:
        kwargs = {"use_reentrant": False}  # non-reentrant: works with frozen inputs, replays dropout RNG
        if hasattr(base, "activation_checkpointing_enable"):
            base.activation_checkpointing_enable(kwargs)
        else:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    torch.manual_seed(cfg.seed)  # LoRA A's initialisation
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      bias=cfg.lora_bias, target_modules=list(cfg.target_modules), task_type="CAUSAL_LM")
    with warnings.catch_warnings():  # peft reads a property transformers 5 renamed; harmless
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
        return get_peft_model(base, lora).to(device)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts, as BurnQED counted them (sum of numel).

    Under QLoRA, 4-bit weights pack two values per element, so the same 7B model counts
    3.95B there (the report's figure) and 6.99B in bfloat16.
    """
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def format_parameters(trainable: int, total: int) -> str:
    """'74.96M / 3.95B (1.9%)', the report's form."""
    share = 100.0 * trainable / total if total else 0.0
    return f"{_human(trainable)} / {_human(total)} ({share:.1f}%)" if share >= 0.1 else \
        f"{_human(trainable)} / {_human(total)} ({share:.2g}%)"


def _human(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


# --------------------------------------------------------------------------- schedule and data order


def learning_rate(step: int, cfg: SFTTrainer) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warmup from 0, then decay.

    Equal to transformers' ``get_{cosine,linear,constant}_schedule_with_warmup``.
    """
    if step < cfg.warmup_steps:
        return cfg.learning_rate * step / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    if cfg.lr_schedule == "linear":
        return cfg.learning_rate * max(0.0, 1.0 - progress)
    return cfg.learning_rate * max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def step_rows(step: int, cfg: SFTTrainer, n: int) -> list[list[int]]:
    """Training-set rows of optimizer step ``step`` (0-based), one list per micro-batch."""
    rows = batch_indices(n, cfg.batch_size * cfg.grad_accum, cfg.seed, step).tolist()
    return [rows[i:i + cfg.batch_size] for i in range(0, len(rows), cfg.batch_size)]


# --------------------------------------------------------------------------- loss


def loss_sum(model, batch: dict[str, torch.Tensor], device: str, autocast) -> torch.Tensor:
    """Summed next-token cross-entropy over the batch's labelled (tactic) tokens."""
    batch = {k: v.to(device) for k, v in batch.items()}
    with autocast:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), batch["labels"][:, 1:].flatten(),
                           ignore_index=IGNORE_INDEX, reduction="sum")


def target_tokens(batch: dict[str, torch.Tensor]) -> int:
    return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


@torch.no_grad()
def evaluate(model, data: SFTPairs, rows: list[int], batch_size: int, pad_id: int, device: str, autocast) -> float:
    """Mean loss per tactic token over ``rows`` of ``data`` (dropout off)."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(rows), batch_size):
        batch = pad_sft_batch([data[j] for j in rows[i:i + batch_size]], pad_id)
        total += loss_sum(model, batch, device, autocast).item()
        count += target_tokens(batch)
    model.train()
    return total / max(count, 1)


# --------------------------------------------------------------------------- checkpoints


def checkpoints(out_dir: Path) -> list[Path]:
    """``checkpoint-STEP`` directories in ``out_dir``, oldest first."""
    return sorted((p for p in Path(out_dir).glob("checkpoint-*") if _step_of(p) is not None), key=_step_of)


def _step_of(path: Path) -> int | None:
    digits = path.name.removeprefix("checkpoint-")
    return int(digits) if path.name.startswith("checkpoint-") and digits.isdigit() else None


def save_checkpoint(out_dir: Path, step: int, model, optimizer, state: dict, keep: int) -> Path:
    final = out_dir / f"checkpoint-{step}"
    with atomic_dir(final) as tmp:
        model.save_pretrained(tmp)  # adapter_config.json + adapter_model.safetensors
        torch.save({**state, "step": step, "optimizer": optimizer.state_dict(), "rng": _rng_state()}, tmp / STATE_FILE)
    if keep:
        for old in checkpoints(out_dir)[:-keep]:
            trash = old.parent / f".{old.name}.deleting"
            shutil.rmtree(trash, ignore_errors=True)  # left by a deletion that was cut short
            os.replace(old, trash)  # gone from checkpoints() at once, even if rmtree is cut short
            shutil.rmtree(trash)
    return final


def load_checkpoint(path: Path, model, optimizer, meta: dict, file: str) -> dict:
    """Restore adapter, optimizer and RNG from ``path``; return its saved trainer state."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    state_file = path / STATE_FILE
    if not state_file.is_file():
        raise InputError.one(str(path), f"not a checkpoint of this trainer (no {STATE_FILE})")
    state = torch.load(state_file, map_location="cpu", weights_only=True)
    problems = [Problem(file, f"the checkpoint {path.name} was trained with {state['meta']['config'].get(k)!r}, "
                              f"this run has {meta['config'][k]!r}; resume under the same settings",
                        key=f"train.sft.{k}")
                for k in RESUME_MUST_MATCH if state["meta"]["config"].get(k) != meta["config"][k]]
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
    torch.set_rng_state(state["rng"]["cpu"])
    if torch.cuda.is_available() and state["rng"]["cuda"]:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return state


def _rng_state() -> dict:
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _resume_point(resume: str | Path | None, out_dir: Path) -> Path | None:
    """The checkpoint to continue from (``"auto"``: the newest in ``out_dir``), or None."""
    existing = checkpoints(out_dir)
    if resume is None:
        if existing:
            raise InputError.one(str(out_dir), f"holds checkpoints of an earlier run (newest {existing[-1].name}); "
                                               "pass --resume auto to continue it, or choose another --out")
        return None
    if str(resume) == "auto":
        return existing[-1] if existing else None
    path = Path(resume)
    if not path.is_dir():
        raise InputError.one(str(path), "no such checkpoint directory")
    newer = [p.name for p in existing if _step_of(p) > (_step_of(path) or 0)]
    if newer and path.resolve().parent == out_dir.resolve():
        raise InputError.one(str(out_dir), f"holds checkpoints newer than {path.name} ({', '.join(newer)}); "
                                           "resume into another --out so --resume auto never mixes the two runs")
    return path


# --------------------------------------------------------------------------- the run


class RunLog:
    """The run's records, kept in memory (tables, checkpoints) and appended to log.jsonl.

    Opening rewrites the file from ``history`` (a resumed run's history comes from its
    checkpoint, so records a killed run wrote after that checkpoint disappear).
    """

    def __init__(self, path: Path, history: list[dict]):
        self.history = history
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in history))
        self.file = open(path, "a", encoding="utf-8")

    def record(self, **entry) -> None:
        self.history.append(entry)
        self.file.write(json.dumps(entry) + "\n")
        self.file.flush()

    def __enter__(self) -> "RunLog":
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


@dataclass
class _Data:
    """The tokenized pairs a run trains and evaluates on."""

    tokenizer: Any
    pad_id: int
    train: SFTPairs
    val: SFTPairs
    eval_rows: list[int]  # the fixed val subset evaluated every eval_every steps
    trajectory_rows: list[int]  # val pairs of trajectories (not base pairs): the report's second figure


@dataclass
class _Run:
    """What the steps of one run touch: schedule, data, model, optimizer and the device."""

    cfg: SFTTrainer  # the schedule this run follows (warmup capped when --max-steps set the length)
    data: _Data
    model: Any
    params: list
    optimizer: torch.optim.Optimizer
    dtype: torch.dtype
    autocast: Any
    device: str
    meta: dict  # what a checkpoint must match to be resumed (the manifest's settings, input digests)
    out_dir: Path

    def val_loss(self, rows: list[int]) -> float:
        return evaluate(self.model, self.data.val, rows, self.cfg.batch_size, self.data.pad_id, self.device,
                        self.autocast)


def train(cfg: SFTTrainer, *, train_path: Path, val_path: Path, out_dir: Path, device: str = "cpu",
          resume: str | Path | None = None, progress=None, say: Callable[[str], None] = print,
          config_file: str = "[train.sft]", length_from_cli: bool = False) -> Result:
    """Train a LoRA adapter on ``train_path``'s pairs; write checkpoints and results to ``out_dir``.

    ``resume``: a checkpoint directory, ``"auto"`` (the newest in ``out_dir``, if any)
    or None (``out_dir`` must then hold no checkpoints). ``progress``: a rich Progress.
    ``length_from_cli``: ``max_steps`` came from the command line, so warmup takes at
    most 10% of it (``prover_models.schedule``); checkpoints keep the manifest's
    ``warmup_steps``, so a resume with another ``--max-steps`` follows the new horizon.
    Writes ``out_dir``/: ``checkpoint-STEP/``, ``adapter/`` (final adapter + tokenizer),
    ``log.jsonl``, ``summary.json``, ``report.md``, ``loss.png``.
    """
    check_config(cfg, config_file)
    model_dir = resolve_model(cfg.base_model, config_file)
    out_dir = Path(out_dir)
    with exclusive(out_dir / ".lock", what=f"the SFT run in {out_dir}"):
        start_from = _resume_point(resume, out_dir)
        if resume is not None and start_from is None:
            say(f"no checkpoint in {out_dir} yet: starting from step 0")
        schedule = cfg
        if length_from_cli:
            warmup, note = cap_warmup(cfg.warmup_steps, cfg.max_steps, key="train.sft.warmup_steps",
                                      override=f"--max-steps {cfg.max_steps}")
            if note:
                say(note)
                schedule = dataclasses.replace(cfg, warmup_steps=warmup)

        # data first: a bad file should fail before minutes of loading a 7B model
        data = _load_data(model_dir, cfg, train_path, val_path)
        run = _setup(model_dir, cfg, schedule, data, device, config_file, out_dir, train_path, val_path)
        trainable, total = count_parameters(run.model)
        step, window, history = _starting_point(run, start_from, config_file, say, trainable, total)
        say(f"trainable params: {format_parameters(trainable, total)}; {len(data.train):,} train pairs, "
            f"{len(data.val):,} val pairs ({len(data.trajectory_rows):,} trajectory), eval subset "
            f"{len(data.eval_rows):,}")

        started, first_step = time.perf_counter(), step
        with RunLog(out_dir / LOG_FILE, history) as log:
            step = _train_steps(run, log, step, window, progress, say)
            seconds = time.perf_counter() - started
            epoch = _final_eval(run, log, step)

        summary = _summary(run, model_dir, trainable, total, step, epoch, seconds, step - first_step)
        _write_results(out_dir, run.model, data.tokenizer, summary, history)
        return Result(summary=summary, model=run.model)


def _load_data(model_dir: Path, cfg: SFTTrainer, train_path: Path, val_path: Path) -> _Data:
    """The base model's tokenizer and both pair files, tokenized; neither may be empty."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    pad_id = next(i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0) if i is not None)
    train_data = SFTPairs(train_path, tokenizer, cfg.max_seq_len)
    val_data = SFTPairs(val_path, tokenizer, cfg.max_seq_len)
    for data in (train_data, val_data):
        if len(data) == 0:
            raise InputError.one(str(data.path), "has no pairs to train or evaluate on")
    return _Data(tokenizer, pad_id, train_data, val_data, val_data.sample(cfg.eval_examples, cfg.seed),
                 val_data.trajectory_indices())


def _setup(model_dir: Path, cfg: SFTTrainer, schedule: SFTTrainer, data: _Data, device: str, config_file: str,
           out_dir: Path, train_path: Path, val_path: Path) -> _Run:
    """The model with fresh LoRA adapters, AdamW over them, autocast, and the run's resume key."""
    model = load_model(model_dir, cfg, device, config_file)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    dtype = resolve_dtype(cfg, device)
    autocast = torch.autocast("cuda", dtype=dtype) if device == "cuda" and dtype != torch.float32 else nullcontext()
    meta = {
        "config": {**asdict(cfg), "target_modules": list(cfg.target_modules), "dtype": str(dtype)},
        "model": str(model_dir),
        "model_digest": bytes_digest((model_dir / "config.json").read_bytes()),
        "train_digest": file_digest(train_path),
        "val_digest": file_digest(val_path),
    }
    return _Run(schedule, data, model, params, optimizer, dtype, autocast, device, meta, out_dir)


def _starting_point(run: _Run, start_from: Path | None, config_file: str, say, trainable: int,
                    total: int) -> tuple[int, list[float], list[dict]]:
    """``(step, loss window, history)``: a fresh run's, or those of the checkpoint it resumes."""
    cfg = run.cfg
    history = [{"kind": "start", "trainable_params": trainable, "total_params": total,
                "trainable": format_parameters(trainable, total)}]
    if start_from is None:
        return 0, [], history
    saved = load_checkpoint(start_from, run.model, run.optimizer, run.meta, config_file)
    step, window = saved["step"], saved["window"]
    if step > cfg.max_steps:
        raise InputError.one(config_file, f"{start_from.name} is at step {step:,}, past max_steps "
                                          f"{cfg.max_steps:,}", key="train.sft.max_steps")
    if saved["meta"]["config"]["max_steps"] != cfg.max_steps:
        say(f"resuming with max_steps {cfg.max_steps} (the checkpoint's run had "
            f"{saved['meta']['config']['max_steps']}): the learning-rate curve follows the new horizon")
    history = saved["history"] + [{"kind": "resume", "step": step, "from": str(start_from),
                                   "epoch": _epoch(step, cfg, len(run.data.train))}]
    return step, window, history


def _train_steps(run: _Run, log: RunLog, step: int, window: list[float], progress, say) -> int:
    """Optimizer steps from ``step`` to ``max_steps``: records, evals and checkpoints on their cadence."""
    cfg, data = run.cfg, run.data
    task = progress.add_task("train-sft", total=cfg.max_steps, completed=step) if progress else None
    run.model.train()
    while step < cfg.max_steps:
        lr = learning_rate(step, cfg)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        micro_batches = [pad_sft_batch([data.train[i] for i in rows], data.pad_id)
                         for rows in step_rows(step, cfg, len(data.train))]
        tokens = max(1, sum(target_tokens(b) for b in micro_batches))
        step_loss = 0.0
        for batch in micro_batches:
            loss = loss_sum(run.model, batch, run.device, run.autocast)
            (loss / tokens).backward()  # the mean over the whole step's tactic tokens
            step_loss += loss.item() / tokens
        grad_norm = torch.nn.utils.clip_grad_norm_(run.params, cfg.grad_clip).item()  # before clipping
        run.optimizer.step()
        run.optimizer.zero_grad(set_to_none=True)
        step += 1
        window.append(step_loss)
        epoch = _epoch(step, cfg, len(data.train))

        if step % cfg.log_every == 0 or step == cfg.max_steps:
            log.record(kind="train", step=step, epoch=epoch, loss=sum(window) / len(window),
                       grad_norm=grad_norm, lr=lr)
            window = []
        if step % cfg.eval_every == 0:
            loss_val = run.val_loss(data.eval_rows)
            log.record(kind="eval", split="subset", step=step, epoch=epoch, loss=loss_val,
                       examples=len(data.eval_rows))
            say(f"step {step:,} | epoch {epoch:.2f} | train loss {step_loss:.4f} | "
                f"eval loss {loss_val:.4f} | lr {lr:.2e}")
        if step % cfg.save_every == 0 or step == cfg.max_steps:
            save_checkpoint(run.out_dir, step, run.model, run.optimizer,
                            {"meta": run.meta, "history": log.history, "window": window}, cfg.keep_checkpoints)
        if task is not None:
            progress.update(task, completed=step, description=f"train-sft loss {step_loss:.4f}")
    return step


def _final_eval(run: _Run, log: RunLog, step: int) -> float:
    """The report's two final figures: the whole val set, and its trajectory pairs alone; returns the epoch."""
    data = run.data
    epoch = _epoch(step, run.cfg, len(data.train))
    full = run.val_loss(list(range(len(data.val))))
    log.record(kind="eval", split="full", step=step, epoch=epoch, loss=full, examples=len(data.val))
    if data.trajectory_rows:
        trajectory = full if len(data.trajectory_rows) == len(data.val) else run.val_loss(data.trajectory_rows)
        log.record(kind="eval", split="trajectory", step=step, epoch=epoch, loss=trajectory,
                   examples=len(data.trajectory_rows))
    return epoch


def _summary(run: _Run, model_dir: Path, trainable: int, total: int, step: int, epoch: float, seconds: float,
             trained: int) -> dict:
    """The run's figures, JSON-ready (the report's tables are added by ``_write_results``)."""
    cfg, data = run.cfg, run.data
    return {
        "model": str(model_dir),
        "out": str(run.out_dir),
        "adapter": str(run.out_dir / "adapter"),
        "device": run.device,
        "dtype": str(run.dtype).removeprefix("torch."),
        "trainable_params": trainable,
        "total_params": total,
        "trainable": format_parameters(trainable, total),
        "train_pairs": len(data.train),
        "val_pairs": len(data.val),
        "trajectory_val_pairs": len(data.trajectory_rows),
        "eval_subset": len(data.eval_rows),
        "eval_every": cfg.eval_every,
        "warmup_steps": cfg.warmup_steps,
        "steps": step,
        "epochs": epoch,
        "runtime_s": seconds,
        "steps_per_s": trained / seconds if trained else None,
        "samples_per_s": trained * cfg.batch_size * cfg.grad_accum / seconds if trained else None,
    }


def _epoch(step: int, cfg: SFTTrainer, n: int) -> float:
    """Passes over the training pairs after ``step`` optimizer steps."""
    return step * cfg.batch_size * cfg.grad_accum / n


def _write_results(out_dir: Path, model, tokenizer, summary: dict, history: list[dict]) -> None:
    """OUT/adapter/, summary.json, report.md, loss.png; ``summary`` gains the report's tables."""
    from prover_models import sft_report

    with atomic_dir(out_dir / "adapter") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    summary.update(sft_report.tables(history))
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    atomic_write_text(out_dir / "report.md", sft_report.markdown(summary))
    with atomic_file(out_dir / "loss.png") as f:
        sft_report.plot(history, f)
