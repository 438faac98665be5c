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
* An optimizer step takes ``grad_accum`` micro-batches: ``batch_size`` pairs each,
  padded to their longest (``batching = "grouped"`` or ``"random"``), or padding-free
  rows of at most ``max_tokens`` tokens (``"packed"``). Its loss is the mean over all
  their tactic tokens, so splitting a step into micro-batches, or over processes, does
  not change it.
* Data order is a pure function of (seed, step) (``prover_models.batching``): each
  epoch is a seeded permutation of the pairs, grouped by length in windows or packed.
  A resumed run needs no data-loader state and sees exactly the batches of an
  uninterrupted one.
* Under ``torchrun`` each of N processes computes every N-th micro-batch of each step,
  under DistributedDataParallel (``prover_models.distributed``); the step's loss and
  gradient are those of one process computing them all. Only rank 0 writes.
* The learning rate is a pure function of the step (``prover_models.schedule``), the
  same curve as transformers' warmup + cosine schedule; it has no state to save.
* Every ``eval_every`` steps: the loss on a fixed subset of ``eval_examples`` val pairs
  chosen by content hash and seed. At the end: the loss on the whole val set and on its
  trajectory pairs alone (``source != 'base'``), the report's two final figures.
* Every ``save_every`` steps, and at the end, ``checkpoint-STEP/``
  (``prover_models.sft_checkpoints``): the adapter (a usable peft adapter), AdamW's
  state, every rank's RNG state, the log so far. Resuming from it continues bit for
  bit (on CPU; CUDA kernels are not all deterministic). Records go through
  ``prover_models.run_log`` (``log.jsonl``, and TensorBoard with ``report_to``).
* The summary counts the pairs cut at ``max_seq_len`` and the token efficiency: real
  tokens over the tokens the forward passes computed, padding included.

A plain torch loop rather than ``transformers.Trainer``: every rule above is visible in
this one file, and resume is exact by construction instead of by replaying a data
loader up to the saved step.

Deliberate differences from BurnQED:

* Packing keeps pairs apart. BurnQED concatenated pairs into 2,048-token chunks with
  no attention boundary, so a pair attended to its neighbours; here a packed pair sees
  only itself, and the default batching pads instead. An "epoch" counts pairs: 12,000
  steps x 20 pairs are 1.8 passes over 131,623 pairs, where BurnQED's packed chunks
  made them 5.1. Compare runs by step (or, under ``"packed"``, by epoch).
* Loss is token-weighted over the whole step and over the whole eval set.
"""

from __future__ import annotations

import json
import time
import warnings
from contextlib import ExitStack, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from prover_data.atomic import atomic_dir, atomic_file, atomic_write_text, exclusive
from prover_data.errors import InputError
from prover_data.identity import bytes_digest, file_digest
from prover_data.manifest import SFTTrainer
from prover_models.batching import StepPlan, check_packing, rank_share
from prover_models.data import IGNORE_INDEX, SFTPairs, pack_sft_batch, pad_sft_batch
from prover_models.devices import resolve_dtype
from prover_models.distributed import World, join, wrap
from prover_models.lora_settings import check_rules, lora_rules, resolve_model
from prover_models.resume import resume_point
from prover_models.run_log import RunLog
from prover_models.schedule import fit_warmup, learning_rate
from prover_models.sft_checkpoints import LOG_FILE, checkpoints, check_resume_path, load_checkpoint, rng_state, save_checkpoint


@dataclass
class Result:
    summary: dict[str, Any]  # figures of the run, JSON-ready (also in OUT/summary.json)
    model: Any  # the trained peft model, in memory
    primary: bool = True  # rank 0 (or the only process): the one that prints and writes


# --------------------------------------------------------------------------- settings


def check_config(cfg: SFTTrainer, file: str = "[train.sft]") -> None:
    """Reject settings that cannot train, naming the manifest key."""
    check_rules(cfg, lora_rules(cfg) + [
        ("lora_dropout", 0.0 <= cfg.lora_dropout < 1.0, "in [0, 1)"),
        ("eval_examples", cfg.eval_examples >= 1, "at least 1"),
        ("group_window", cfg.group_window >= 1, "at least 1 micro-batch"),
        ("max_tokens", cfg.batching != "packed" or cfg.max_tokens >= cfg.max_seq_len,
         f"at least max_seq_len ({cfg.max_seq_len}) under batching = \"packed\", so every pair fits a micro-batch"),
    ], "sft", file)


# --------------------------------------------------------------------------- model


def load_model(model_dir: Path, cfg: SFTTrainer, device: str, file: str = "[train.sft]"):
    """The base causal LM with fresh LoRA adapters on ``target_modules``; only they train."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    attention = {"attn_implementation": cfg.attn_implementation} if cfg.attn_implementation else {}
    try:
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=resolve_dtype(cfg.dtype, device), local_files_only=True,
                                                    **attention)
    except (ValueError, ImportError) as e:
        if not attention:
            raise
        raise InputError.one(file, f"attention implementation {cfg.attn_implementation!r} cannot load "
                                   f"{model_dir}: {e}", key="train.sft.attn_implementation") from None
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


# --------------------------------------------------------------------------- data order


def plan_of(cfg: SFTTrainer, lengths) -> StepPlan:
    """The run's steps (``prover_models.batching``) over pairs of these token lengths."""
    return StepPlan(lengths, batching=cfg.batching, batch_size=cfg.batch_size, grad_accum=cfg.grad_accum,
                    seed=cfg.seed, group_window=cfg.group_window, max_tokens=cfg.max_tokens)


def step_rows(step: int, cfg: SFTTrainer, lengths) -> list[list[int]]:
    """Training-set rows of optimizer step ``step`` (0-based), one list per micro-batch."""
    return [rows.tolist() for rows in plan_of(cfg, lengths).step(step)]


# --------------------------------------------------------------------------- loss


def loss_sum(model, batch: dict[str, torch.Tensor], device: str, autocast) -> torch.Tensor:
    """Summed next-token cross-entropy over the batch's labelled (tactic) tokens.

    A padded batch carries an attention mask; a packed one carries position ids instead,
    which transformers turns into a mask that keeps each pair to itself -- only without
    a KV cache: given one (``use_cache`` defaults to True), it ignores the restarts.
    """
    inputs = {k: batch[k].to(device) for k in ("input_ids", "attention_mask", "position_ids") if k in batch}
    with autocast:
        logits = model(**inputs, use_cache=False).logits
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), batch["labels"][:, 1:].flatten().to(device),
                           ignore_index=IGNORE_INDEX, reduction="sum")


def target_tokens(batch: dict[str, torch.Tensor]) -> int:
    return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


@torch.no_grad()
def evaluate(model, data: SFTPairs, rows: list[int], batch_size: int, pad_id: int, device: str, autocast,
             world: World = World()) -> float:
    """Mean loss per tactic token over ``rows`` of ``data`` (dropout off).

    Rows are batched in order of length (the loss is a sum, so order only changes
    padding), and each rank takes every N-th batch.
    """
    model.eval()
    lengths = data.lengths
    rows = sorted(rows, key=lambda i: (int(lengths[i]), i))
    batches = [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
    total, count = 0.0, 0
    for chunk in rank_share(batches, world.rank, world.size):
        batch = pad_sft_batch([data[j] for j in chunk], pad_id)
        total += loss_sum(model, batch, device, autocast).item()
        count += target_tokens(batch)
    total, count = world.sum([total, count], _collective_device(device))
    model.train()
    return total / max(count, 1)


def _collective_device(device: str) -> str:
    """Where a collective's tensor lives: NCCL reduces CUDA tensors only."""
    return device if device.startswith("cuda") else "cpu"


# --------------------------------------------------------------------------- the run


@dataclass
class _Data:
    """The tokenized pairs a run trains and evaluates on."""

    tokenizer: Any
    pad_id: int
    train: SFTPairs
    val: SFTPairs
    eval_rows: list[int]  # the fixed val subset evaluated every eval_every steps
    trajectory_rows: list[int]  # val pairs of trajectories (not base pairs): the report's second figure


def train(cfg: SFTTrainer, *, train_path: Path, val_path: Path, out_dir: Path, device: str = "cpu",
          resume: str | Path | None = None, progress=None, say: Callable[[str], None] = print,
          config_file: str = "[train.sft]", length_from_cli: bool = False, report_to: str = "none") -> Result:
    """Train a LoRA adapter on ``train_path``'s pairs; write checkpoints and results to ``out_dir``.

    ``resume``: a checkpoint directory, ``"auto"`` or None (``prover_models.resume``).
    ``length_from_cli``: ``max_steps`` came from the command line, so warmup takes at
    most 10% of it (``prover_models.schedule``; checkpoints keep the manifest's value).
    ``report_to``: ``"tensorboard"`` also writes OUT/tensorboard/ (``prover_models.run_log``).
    Under torchrun this process is one rank of the run; only rank 0 writes and prints.
    Writes ``checkpoint-STEP/``, ``adapter/``, ``log.jsonl``, ``summary.json``, ``report.md``, ``loss.png``.
    """
    world, device = join(device)
    if not world.primary:
        say, progress = (lambda _: None), None
    out_dir = Path(out_dir)
    try:
        with ExitStack() as held:
            # Everything before step one happens on every rank; bad input on any one stops them all.
            model_dir, start_from = world.together(lambda: _run_directory(cfg, world, out_dir, resume, say,
                                                                          config_file, held))
            schedule = fit_warmup(cfg, cfg.max_steps, section="sft", say=say,
                                  override=f"--max-steps {cfg.max_steps}" if length_from_cli else None)
            # data first: a bad file should fail before minutes of loading a 7B model
            data = world.together(lambda: _load_data(model_dir, cfg, train_path, val_path))
            model, params, optimizer, dtype, autocast = world.together(lambda: _model(model_dir, cfg, data, device,
                                                                                      config_file, world))
            plan = plan_of(cfg, data.train.lengths)
            meta = _resume_key(cfg, dtype, model_dir, train_path, val_path)
            params_count = count_parameters(model)
            step, window, history = world.together(lambda: _starting_point(
                cfg, model, optimizer, meta, start_from, plan, world, config_file, say, params_count))
            trainer = wrap(model, world, device)  # the model as steps call it: DDP in a world of several
            say(_inputs_line(cfg, data, params_count, world))
            def val_loss(rows: list[int]) -> float:
                return evaluate(model, data.val, rows, cfg.batch_size, data.pad_id, device, autocast, world)
            task = progress.add_task("train-sft", total=cfg.max_steps, completed=step) if progress else None
            started, first_step = time.perf_counter(), step
            with RunLog(out_dir / LOG_FILE if world.primary else None, history, report_to=report_to) as log:
                model.train()
                while step < cfg.max_steps:
                    lr = learning_rate(step, peak=cfg.learning_rate, warmup_steps=schedule.warmup_steps,
                                       total_steps=cfg.max_steps, decay=cfg.lr_schedule, warmup_from_zero=True)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    share = rank_share(plan.step(step), world.rank, world.size)  # this rank's micro-batches
                    step_loss = _forward_backward(trainer, [_collate(cfg, data, rows) for rows in share], device,
                                                  autocast, world)
                    grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip).item()  # before clipping
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    step += 1
                    window.append(step_loss)
                    epoch = plan.epoch_at(step)
                    if step % cfg.log_every == 0 or step == cfg.max_steps:
                        log.record(kind="train", step=step, epoch=epoch, loss=sum(window) / len(window),
                                   grad_norm=grad_norm, lr=lr)
                        window = []
                    if step % cfg.eval_every == 0:
                        loss_val = val_loss(data.eval_rows)
                        log.record(kind="eval", split="subset", step=step, epoch=epoch, loss=loss_val,
                                   examples=len(data.eval_rows))
                        say(f"step {step:,} | epoch {epoch:.2f} | train loss {step_loss:.4f} | "
                            f"eval loss {loss_val:.4f} | lr {lr:.2e}")
                    if step % cfg.save_every == 0 or step == cfg.max_steps:
                        rngs = world.gather(rng_state())
                        if world.primary:
                            save_checkpoint(out_dir, step, model, optimizer, {"meta": meta, "history": log.history,
                                                                              "window": window}, cfg.keep_checkpoints, rngs)
                    if task is not None:
                        progress.update(task, completed=step, description=f"train-sft loss {step_loss:.4f}")
                seconds = time.perf_counter() - started
                _final_eval(val_loss, data, log, step, plan.epoch_at(step))
            summary = _summary(schedule, data, plan, model_dir, params_count, out_dir, device, dtype, world,
                               (first_step, step, seconds))
            _write_results(out_dir, model, data.tokenizer, summary, history, world)
            return Result(summary=summary, model=model, primary=world.primary)
    finally:
        world.close()


def _run_directory(cfg: SFTTrainer, world: World, out_dir: Path, resume, say, config_file: str,
                   held: ExitStack) -> tuple[Path, Path | None]:
    """Settings checked, the base model found, the run directory locked (rank 0), the checkpoint to continue."""
    check_config(cfg, config_file)
    if cfg.grad_accum % world.size:
        raise InputError.one(config_file, f"grad_accum = {cfg.grad_accum} is not a multiple of the {world.size} "
                                          "processes: each takes an equal share of every step's micro-batches",
                             key="train.sft.grad_accum")
    model_dir = resolve_model(cfg.base_model, config_file, "sft")
    if world.primary:
        held.enter_context(exclusive(out_dir / ".lock", what=f"the SFT run in {out_dir}"))
    start_from = resume_point(resume, out_dir, checkpoints(out_dir), check=lambda p: check_resume_path(p, out_dir))
    if resume is not None and start_from is None:
        say(f"no checkpoint in {out_dir} yet: starting from step 0")
    return model_dir, start_from


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


def _model(model_dir: Path, cfg: SFTTrainer, data: _Data, device: str, config_file: str, world: World):
    """``(model, its trainable parameters, AdamW over them, dtype, autocast)``; packing checked where asked."""
    model = load_model(model_dir, cfg, device, config_file)
    if world.rank:
        torch.manual_seed(cfg.seed + world.rank)  # each rank's own dropout masks; rank 0 draws as a lone process
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    dtype = resolve_dtype(cfg.dtype, device)
    autocast = torch.autocast("cuda", dtype=dtype) if device.startswith("cuda") and dtype != torch.float32 \
        else nullcontext()
    if cfg.batching == "packed":
        check_packing(model, [data.train[i]["input_ids"] for i in range(min(2, len(data.train)))], device, autocast,
                      config_file)
    return model, params, optimizer, dtype, autocast


def _resume_key(cfg: SFTTrainer, dtype: torch.dtype, model_dir: Path, train_path: Path, val_path: Path) -> dict:
    """What a checkpoint must match to be resumed: the manifest's settings and the inputs' digests."""
    return {
        "config": {**asdict(cfg), "target_modules": list(cfg.target_modules), "dtype": str(dtype)},
        "model": str(model_dir),
        "model_digest": bytes_digest((model_dir / "config.json").read_bytes()),
        "train_digest": file_digest(train_path),
        "val_digest": file_digest(val_path),
    }


def _starting_point(cfg: SFTTrainer, model, optimizer, meta: dict, start_from: Path | None, plan: StepPlan,
                    world: World, config_file: str, say, params_count: tuple[int, int]):
    """``(step, loss window, history)``: a fresh run's, or those of the checkpoint it resumes."""
    trainable, total = params_count
    history = [{"kind": "start", "trainable_params": trainable, "total_params": total,
                "trainable": format_parameters(trainable, total)}]
    if start_from is None:
        return 0, [], history
    saved = load_checkpoint(start_from, model, optimizer, meta, config_file, world.rank)
    if not saved["rng_restored"]:
        torch.manual_seed(cfg.seed + world.rank)
    step, window = saved["step"], saved["window"]
    if step > cfg.max_steps:
        raise InputError.one(config_file, f"{start_from.name} is at step {step:,}, past max_steps "
                                          f"{cfg.max_steps:,}", key="train.sft.max_steps")
    if saved["meta"]["config"]["max_steps"] != cfg.max_steps:
        say(f"resuming with max_steps {cfg.max_steps} (the checkpoint's run had "
            f"{saved['meta']['config']['max_steps']}): the learning-rate curve follows the new horizon")
    saved_ranks = len(saved.get("rng_ranks", [None]))
    if saved_ranks != world.size:
        say(f"resuming {saved_ranks} process(es)' run with {world.size}: the data order is the same, "
            "the dropout masks are not")
    history = saved["history"] + [{"kind": "resume", "step": step, "from": str(start_from),
                                   "epoch": plan.epoch_at(step)}]
    return step, window, history


def _inputs_line(cfg: SFTTrainer, data: _Data, params_count: tuple[int, int], world: World) -> str:
    cut = data.train.truncation()
    return (f"trainable params: {format_parameters(*params_count)}; {len(data.train):,} train pairs "
            f"({cut['truncated']:,} longer than max_seq_len {cfg.max_seq_len:,}, cut), {len(data.val):,} val pairs "
            f"({len(data.trajectory_rows):,} trajectory), eval subset {len(data.eval_rows):,}; batching {cfg.batching}"
            + (f", {world.size} processes" if world.size > 1 else ""))


def _collate(cfg: SFTTrainer, data: _Data, rows) -> dict[str, torch.Tensor]:
    examples = [data.train[int(i)] for i in rows]
    return pack_sft_batch(examples) if cfg.batching == "packed" else pad_sft_batch(examples, data.pad_id)


def _forward_backward(trainer, micro_batches: list[dict], device: str, autocast, world: World) -> float:
    """Forward and backward over this rank's micro-batches of a step; the step's loss (all ranks)."""
    where = _collective_device(device)
    tokens = max(1.0, world.sum([sum(target_tokens(b) for b in micro_batches)], where)[0])
    step_loss = 0.0
    for k, batch in enumerate(micro_batches):
        last = k == len(micro_batches) - 1
        with nullcontext() if world.size == 1 or last else trainer.no_sync():  # one all-reduce per step
            loss = loss_sum(trainer, batch, device, autocast)
            # The mean over the whole step's tactic tokens: DDP averages the ranks'
            # gradients, so each rank's share is scaled back up to a sum.
            (loss / tokens * world.size).backward()
        step_loss += loss.item() / tokens
    return world.sum([step_loss], where)[0]


def _final_eval(val_loss: Callable[[list[int]], float], data: _Data, log: RunLog, step: int, epoch: float) -> None:
    """The report's two final figures: the whole val set, and its trajectory pairs alone."""
    full = val_loss(list(range(len(data.val))))
    log.record(kind="eval", split="full", step=step, epoch=epoch, loss=full, examples=len(data.val))
    if data.trajectory_rows:
        trajectory = full if len(data.trajectory_rows) == len(data.val) else val_loss(data.trajectory_rows)
        log.record(kind="eval", split="trajectory", step=step, epoch=epoch, loss=trajectory,
                   examples=len(data.trajectory_rows))


def _summary(schedule: SFTTrainer, data: _Data, plan: StepPlan, model_dir: Path, params_count: tuple[int, int],
             out_dir: Path, device: str, dtype: torch.dtype, world: World, span: tuple[int, int, float]) -> dict:
    """The run's figures, JSON-ready (the report's tables are added by ``_write_results``).

    ``span``: (first step this process trained, last step, seconds). Token counts come
    from the plan, for every step of the run (a resumed run's earlier steps included);
    the rates, for the steps this process trained.
    """
    first_step, step, seconds = span
    trained = step - first_step
    real, computed, _ = plan.tokens(0, step)
    real_here, _, pairs_here = plan.tokens(first_step, step)
    train_cut, val_cut = data.train.truncation(), data.val.truncation()
    return {
        "model": str(model_dir),
        "out": str(out_dir),
        "adapter": str(out_dir / "adapter"),
        "device": device,
        "dtype": str(dtype).removeprefix("torch."),
        "processes": world.size,
        "trainable_params": params_count[0],
        "total_params": params_count[1],
        "trainable": format_parameters(*params_count),
        "train_pairs": len(data.train),
        "val_pairs": len(data.val),
        "trajectory_val_pairs": len(data.trajectory_rows),
        "max_seq_len": schedule.max_seq_len,
        "truncated_train_pairs": train_cut["truncated"],
        "truncated_val_pairs": val_cut["truncated"],
        "train_pairs_without_tactic": train_cut["without_tactic"],
        "eval_subset": len(data.eval_rows),
        "eval_every": schedule.eval_every,
        "warmup_steps": schedule.warmup_steps,
        "batching": schedule.batching,
        "real_tokens": real,
        "computed_tokens": computed,
        "token_efficiency": real / computed if computed else None,
        "steps": step,
        "epochs": plan.epoch_at(step),
        "runtime_s": seconds,
        "steps_per_s": trained / seconds if trained else None,
        "samples_per_s": pairs_here / seconds if trained else None,
        "tokens_per_s": real_here / seconds if trained else None,
    }


def _write_results(out_dir: Path, model, tokenizer, summary: dict, history: list[dict], world: World) -> None:
    """Rank 0 writes OUT/adapter/, summary.json, report.md, loss.png (``summary`` gains the
    report's tables); every rank waits until it has (``World.barrier``)."""
    from prover_models import sft_report

    if world.primary:
        with atomic_dir(out_dir / "adapter") as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        summary.update(sft_report.tables(history))
        atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
        atomic_write_text(out_dir / "report.md", sft_report.markdown(summary))
        with atomic_file(out_dir / "loss.png") as f:
            sft_report.plot(history, f)
    world.barrier()
