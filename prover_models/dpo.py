"""DPO of a LoRA adapter on a build's preference pairs, over TRL's ``DPOTrainer``.

Reads a manifest's ``[train.dpo]`` (``prover_data.manifest.DPOTrainer``) and
``build/NAME/preferences_train.parquet`` / ``preferences_val.parquet``
(``schema.PREFERENCES``): at a branch point of a search tree, the tactic that led to a
proof (chosen) against one that led nowhere (rejected), as BFS-Prover trains its policy.

What this module decides, and TRL does not:

* **Tokens.** Each pair is tokenized as train-sft tokenizes its pairs
  (``preferences.tokenize``): the DPO log-probabilities are those of the very tokens
  the SFT policy was trained to emit. TRL's own preprocessing is bypassed
  (``_PairTrainer._prepare_dataset``). A pair whose prompt alone fills ``max_seq_len``
  carries no completion token and is dropped (counted in the summary), as TRL drops it.
* **Reference = the frozen starting policy.** From the base model (no ``--from``): a
  fresh LoRA adapter, whose B matrices start at zero, so the policy starts equal to the
  base; TRL computes the reference with the adapter disabled, i.e. the base. From a
  train-sft run (``--from RUN``): the run's adapter is loaded trainable, and TRL copies
  it into a second, frozen adapter named ``ref`` that it switches to for the reference
  pass, so the reference is the SFT policy and DPO continues the same adapter. The
  alternative, merging the SFT adapter into the base and adding a fresh one, gives the
  same reference, but its adapter is useless without the merged SFT weights beside it;
  continuing the adapter leaves OUT/adapter/ a plain adapter of the base model, loaded
  as any train-sft adapter is. Its LoRA shape is then the SFT adapter's. Either way
  the step-0 evaluation (every fresh run has one) has rewards of exactly zero: the
  check that the reference is the starting policy.
* **No dropout.** TRL turns dropout off in policy and reference (its default, kept):
  with dropout the log-ratio of two passes would be noise even at step 0. Hence
  ``[train.dpo]`` has no ``lora_dropout``.
* **Checkpoints.** Transformers' Trainer writes ``checkpoint-STEP/`` (adapter, optimizer,
  scheduler, RNG, data position); after it, ``RUN_FILE`` is written atomically into the
  directory. Only a checkpoint holding it is complete: ``--resume auto`` takes the newest
  such, and refuses it when the settings that shape the weights or the inputs differ.
* **Batching** (``[train.dpo] batching``: grouped, random, packed) maps onto TRL's and
  transformers' own settings (``prover_models.dpo_batching`` says how, and why packed is
  refused under TRL 1.16); each training micro-batch's real and computed tokens are
  counted there, for the token efficiency of every train log line and of the run.
* **Several processes.** Under ``torchrun`` (or ``accelerate launch``), transformers'
  Trainer runs DistributedDataParallel (gloo on CPU, NCCL on CUDA) and shards each step's
  micro-batches over the processes; ``grad_accum`` stays the step's micro-batches in all,
  each process computing ``grad_accum / N`` of them, so N processes take the steps one
  would. Only rank 0 takes the lock and writes the log, checkpoints' run records and
  results (the Trainer writes checkpoints from rank 0 itself).
* **Records.** ``metrics.jsonl`` holds one line per log step and per evaluation, TRL's
  metric names as TRL logs them (``rewards/margins``, ...); ``progress_table`` is the
  table of loss, chosen and rejected rewards, margin, accuracy and token efficiency.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from transformers import TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from trl import DPOConfig
from trl import DPOTrainer as TRLDPOTrainer

from prover_data.atomic import atomic_dir, atomic_write_text, exclusive
from prover_data.errors import InputError, Problem
from prover_data.identity import bytes_digest, file_digest
from prover_data.manifest import DPOTrainer
from prover_models import preferences
from prover_models.devices import resolve_dtype
from prover_models.distributed import launched_rank
from prover_models.dpo_batching import SAMPLING, EpochSeeded, TokenCount, check_padding_free
from prover_models.lora_settings import check_rules, lora_rules, resolve_model
from prover_models.resume import resume_point
from prover_models.run_log import RunLog
from prover_models.schedule import fit_warmup
from prover_models.sft import count_parameters, format_parameters
from prover_models.sft_checkpoints import checkpoints

# Transformers 5 renamed TrainingArguments' gradient_checkpointing (the old name still works, with a warning).
_CHECKPOINTING = next(n for n in ("activation_checkpointing", "gradient_checkpointing")
                      if n in {f.name for f in dataclasses.fields(DPOConfig)})
RUN_FILE = "dpo_run.json"  # in each complete checkpoint: its resume key and the log so far
LOG_FILE = "metrics.jsonl"
# The table's columns: TRL's metric names, and how the table heads them.
METRICS = {"loss": "Loss", "rewards/chosen": "Chosen reward", "rewards/rejected": "Rejected reward",
           "rewards/margins": "Margin", "rewards/accuracies": "Accuracy", "token_efficiency": "Token efficiency"}
# Settings that shape the weights: a checkpoint resumes only under the same values.
# max_steps may change (the schedule follows the new horizon), and so may the cadences.
RESUME_MUST_MATCH = ("lora_r", "lora_alpha", "lora_bias", "target_modules", "beta", "learning_rate",
                     "lr_schedule", "warmup_steps", "batch_size", "grad_accum", "max_seq_len", "seed",
                     "weight_decay", "grad_clip", "dtype", "batching")


@dataclass
class Result:
    summary: dict[str, Any]  # figures of the run, JSON-ready (also in OUT/summary.json)
    model: Any  # the trained peft model, in memory
    primary: bool = True  # rank 0 (or the only process): the one that wrote the results


# --------------------------------------------------------------------------- settings and inputs


def processes() -> int:
    """How many processes torchrun (or accelerate launch) started this run in: 1 outside them."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_config(cfg: DPOTrainer, file: str = "[train.dpo]", world_size: int = 1) -> None:
    """Reject settings that cannot train, naming the manifest key."""
    check_rules(cfg, lora_rules(cfg) + [
        ("beta", cfg.beta > 0, "a positive number"),
        ("grad_accum", cfg.grad_accum % world_size == 0,
         f"a multiple of the {world_size} processes (each takes an equal share of every step's micro-batches)"),
    ], "dpo", file)


def sft_adapter(run: str | Path) -> Path:
    """The adapter a ``--from`` run names: RUN/adapter/ (a train-sft run), or RUN itself (an adapter or checkpoint)."""
    run = Path(run)
    for candidate in (run / "adapter", run):
        if (candidate / "adapter_config.json").is_file():
            return candidate
    what = "no such directory" if not run.is_dir() else "holds no LoRA adapter (no adapter/adapter_config.json)"
    raise InputError.one(str(run), f"{what}: --from takes a train-sft run directory, or an adapter or "
                                   "checkpoint directory in one", key="--from")


def pair_dataset(path: Path, tokenizer, max_len: int):
    """``(datasets.Dataset of token ids, dropped)``: a preference file as TRL's collator takes it.

    ``dropped`` counts pairs whose prompt alone fills ``max_len`` (no completion token is
    left to compare). ``length``: the tokens of the pair's longer sequence, before TRL's
    collator cuts it at ``max_len`` (what length grouping sorts by, and how the
    summary counts the pairs cut). An empty file, or one left empty by that, is an error.
    """
    from datasets import Dataset

    table = preferences.read_pairs(path)
    columns: dict[str, list] = {"prompt_ids": [], "chosen_ids": [], "rejected_ids": [], "length": []}
    dropped = 0
    for prompt, chosen, rejected in zip(*(table.column(c).to_pylist() for c in ("prompt", "chosen", "rejected"))):
        prompt_ids, chosen_ids = preferences.tokenize(tokenizer, prompt, chosen)
        if len(prompt_ids) >= max_len:
            dropped += 1
            continue
        columns["prompt_ids"].append(prompt_ids)
        columns["chosen_ids"].append(chosen_ids)
        columns["rejected_ids"].append(preferences.tokenize(tokenizer, prompt, rejected)[1])
        columns["length"].append(len(prompt_ids) + max(len(chosen_ids), len(columns["rejected_ids"][-1])))
    if not columns["prompt_ids"]:
        why = f" whose prompt fits in max_seq_len {max_len}" if table.num_rows else ""
        raise InputError.one(str(path), f"has no preference pairs{why} to train or evaluate on")
    return Dataset.from_dict(columns), dropped


# --------------------------------------------------------------------------- checkpoints


def complete_checkpoints(out_dir: Path) -> list[Path]:
    """``checkpoint-STEP`` directories of ``out_dir`` that hold ``RUN_FILE``, oldest first."""
    return [p for p in checkpoints(out_dir) if (p / RUN_FILE).is_file()]


def _check_resume_path(path: Path) -> None:
    if not (path / RUN_FILE).is_file():
        raise InputError.one(str(path), f"not a complete train-dpo checkpoint (no {RUN_FILE})", key="--resume")


def check_resumable(path: Path, meta: dict, file: str) -> dict:
    """The saved run of checkpoint ``path``; refused when it was trained under other settings or inputs."""
    saved = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    was = {"batching": "random", **saved["meta"]["config"]}  # checkpoints from before the key drew at random
    problems = [Problem(file, f"the checkpoint {path.name} was trained with {was.get(k)!r}, "
                              f"this run has {meta['config'][k]!r}; resume under the same settings",
                        key=f"train.dpo.{k}")
                for k in RESUME_MUST_MATCH if was.get(k) != meta["config"][k]]
    for k, what in (("train_digest", "preferences_train.parquet"), ("val_digest", "preferences_val.parquet"),
                    ("model_digest", "the base model's config.json"), ("from_digest", "the --from adapter")):
        if saved["meta"][k] != meta[k]:
            problems.append(Problem(str(path), f"{what} differs from the one this checkpoint was trained on"))
    if problems:
        raise InputError(problems)
    return saved


# --------------------------------------------------------------------------- TRL


class _PairTrainer(TRLDPOTrainer):
    """TRL's DPOTrainer on pre-tokenized pairs that counts its tokens and whose checkpoints record the run.

    ``log_records``, the run's ``RunLog``, is set once the trainer is built (on rank 0 it writes
    ``metrics.jsonl``, which a refused run must not leave behind).
    """

    def __init__(self, *args, meta: dict, tokens: dict | None, **kwargs):
        self.meta, self.tokens, self.log_records = meta, TokenCount(tokens), None
        super().__init__(*args, **kwargs)

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset  # tokenized by pair_dataset, as train-sft tokenizes: see the module docstring

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):  # windows of whole steps, all processes' micro-batches
            step_pairs = self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps
            return EpochSeeded(step_pairs * self.args.world_size, list(sampler.lengths), self.args.data_seed)
        return sampler

    def training_step(self, model, inputs, *args, **kwargs):
        self.tokens.add(inputs)
        return super().training_step(model, inputs, *args, **kwargs)

    def log(self, logs: dict, start_time: float | None = None) -> None:
        if "loss" in logs:  # a train log line (evaluations log eval_loss); every process logs it
            self.tokens.settle(self.accelerator)
            logs["token_efficiency"] = self.tokens.take_window()
        super().log(logs, start_time)

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        self.tokens.settle(self.accelerator)
        if self.is_world_process_zero():
            record = {"meta": self.meta, "history": self.log_records.history, "step": self.state.global_step,
                      "tokens": self.tokens.state()}
            folder = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
            atomic_write_text(folder / RUN_FILE, json.dumps(record, indent=1) + "\n")


class _Recorder(TrainerCallback):
    """Trainer logs -> metrics.jsonl rows, the progress bar, and a line per evaluation."""

    def __init__(self, log: RunLog, progress, total: int, say: Callable[[str], None]):
        self.log, self.progress, self.say = log, progress, say
        self.task = progress.add_task("train-dpo", total=total) if progress else None

    def on_step_end(self, args, state, control, **kwargs):
        if self.task is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "eval_loss" in logs:
            row = {k.removeprefix("eval_"): v for k, v in logs.items() if k.startswith("eval_")}
            self.log.record(kind="eval", step=state.global_step, epoch=state.epoch or 0.0, **_metrics(row))
            self.say(f"step {state.global_step:,} | eval " + " | ".join(
                f"{METRICS[k].lower()} {row[k]:.4f}" for k in METRICS if k in row))
        elif "loss" in logs:
            self.log.record(kind="train", step=state.global_step, epoch=state.epoch or 0.0,
                            lr=logs.get("learning_rate"), grad_norm=logs.get("grad_norm"),
                            token_efficiency=logs.get("token_efficiency"), **_metrics(logs))
            if self.task is not None:
                self.progress.update(self.task, description=f"train-dpo loss {logs['loss']:.4f}")


def _metrics(logs: dict) -> dict:
    """TRL's preference metrics of one log entry (loss, rewards/*, logps/*)."""
    return {k: float(v) for k, v in logs.items() if k == "loss" or k.startswith(("rewards/", "logps/"))}


def trl_config(cfg: DPOTrainer, out_dir: Path, device: str, dtype: torch.dtype, fresh: bool,
               world_size: int = 1) -> DPOConfig:
    """``[train.dpo]`` as TRL's DPOConfig: the schedule, cadences, batching, precision and device.

    ``fresh``: a run from step 0, which evaluates before its first step (a resumed run
    has that evaluation in its log already). ``world_size``: the processes that share
    each step's ``grad_accum`` micro-batches. The ``length`` column stays in the
    datasets (``remove_unused_columns`` off): length grouping reads it, and TRL's
    collator takes only the columns it knows. Every trainable (LoRA) weight takes part in
    every forward pass, so DDP need not search for unused ones.
    """
    return DPOConfig(
        output_dir=str(out_dir), max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum // world_size,
        train_sampling_strategy=SAMPLING[cfg.batching], padding_free=cfg.batching == "packed",
        length_column_name="length", remove_unused_columns=False, ddp_find_unused_parameters=False,
        learning_rate=cfg.learning_rate, warmup_steps=cfg.warmup_steps,
        lr_scheduler_type="constant_with_warmup" if cfg.lr_schedule == "constant" else cfg.lr_schedule,
        weight_decay=cfg.weight_decay, max_grad_norm=cfg.grad_clip, beta=cfg.beta, max_length=cfg.max_seq_len,
        eval_strategy="steps", eval_steps=cfg.eval_every, eval_on_start=fresh, save_strategy="steps",
        save_steps=cfg.save_every, save_total_limit=cfg.keep_checkpoints or None, logging_steps=cfg.log_every,
        seed=cfg.seed, data_seed=cfg.seed, bf16=dtype == torch.bfloat16, fp16=False, use_cpu=device == "cpu",
        **{_CHECKPOINTING: cfg.gradient_checkpointing,
           f"{_CHECKPOINTING}_kwargs": {"use_reentrant": False} if cfg.gradient_checkpointing else None},
        report_to=[], disable_tqdm=True, save_only_model=False,
    )


def starting_policy(model_dir: Path, cfg: DPOTrainer, dtype: torch.dtype, adapter: Path | None, file: str,
                    say: Callable[[str], None]):
    """``(model, peft_config, lora)``: the base model with the ``--from`` adapter loaded
    trainable (TRL then freezes a copy as the reference), or the base model and a fresh
    LoRA config for TRL to apply. ``lora``: the adapter's shape, for the summary."""
    from peft import LoraConfig, PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, local_files_only=True)
    if adapter is not None:
        try:
            model = PeftModel.from_pretrained(base, adapter, is_trainable=True)
        except (RuntimeError, ValueError, KeyError) as e:
            raise InputError.one(str(adapter), f"is not an adapter of {model_dir}: {e}", key="--from") from None
        got = model.peft_config["default"]
        lora = {"r": got.r, "alpha": got.lora_alpha, "target_modules": sorted(got.target_modules)}
        if (got.r, got.lora_alpha, set(got.target_modules)) != (cfg.lora_r, cfg.lora_alpha, set(cfg.target_modules)):
            say(f"continuing the adapter of {adapter}: its LoRA shape (r {got.r}, alpha {got.lora_alpha}) "
                "is kept; [train.dpo] lora_r, lora_alpha and target_modules apply to runs from the base model")
        return model, None, lora
    present = {name.rsplit(".", 1)[-1] for name, _ in base.named_modules()}
    missing = [m for m in cfg.target_modules if m not in present]
    if missing:
        raise InputError.one(file, f"modules {missing} are not in {model_dir} ({type(base).__name__})",
                             key="train.dpo.target_modules")
    peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0, bias=cfg.lora_bias,
                             target_modules=list(cfg.target_modules), task_type="CAUSAL_LM")
    return base, peft_config, {"r": cfg.lora_r, "alpha": cfg.lora_alpha, "target_modules": sorted(cfg.target_modules)}


# --------------------------------------------------------------------------- the run


@dataclass
class _Inputs:
    """Everything a run reads, checked before anything is written."""

    model_dir: Path
    adapter: Path | None
    tokenizer: Any
    train: Any  # datasets.Dataset of token ids
    val: Any
    dropped: dict[str, int]  # pairs whose prompt fills max_seq_len, per split
    meta: dict  # what a checkpoint must match to be resumed


def load_inputs(cfg: DPOTrainer, train_path: Path, val_path: Path, from_run: str | Path | None,
                config_file: str, world_size: int = 1) -> _Inputs:
    from transformers import AutoTokenizer

    check_config(cfg, config_file, world_size)
    model_dir = resolve_model(cfg.base_model, config_file, "dpo")
    adapter = sft_adapter(from_run) if from_run is not None else None
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    train_set, train_dropped = pair_dataset(train_path, tokenizer, cfg.max_seq_len)
    val_set, val_dropped = pair_dataset(val_path, tokenizer, cfg.max_seq_len)
    meta = {
        "config": {**asdict(cfg), "target_modules": list(cfg.target_modules)},
        "model": str(model_dir),
        "model_digest": bytes_digest((model_dir / "config.json").read_bytes()),
        "train_digest": file_digest(train_path),
        "val_digest": file_digest(val_path),
        "from": str(adapter) if adapter else None,
        "from_digest": file_digest(adapter / "adapter_model.safetensors") if adapter else None,
    }
    return _Inputs(model_dir, adapter, tokenizer, train_set, val_set, {"train": train_dropped, "val": val_dropped},
                   meta)


def train(cfg: DPOTrainer, *, train_path: Path, val_path: Path, out_dir: Path, device: str = "cpu",
          resume: str | Path | None = None, from_run: str | Path | None = None, progress=None,
          say: Callable[[str], None] = print, config_file: str = "[train.dpo]",
          length_from_cli: bool = False, report_to: str = "none") -> Result:
    """Train a LoRA adapter by DPO on ``train_path``'s pairs; write checkpoints and results to ``out_dir``.

    ``resume``: a checkpoint directory, ``"auto"`` (the newest complete one in
    ``out_dir``, if any) or None (``out_dir`` must then hold none). ``from_run``: a
    train-sft run whose adapter is the starting policy and the reference.
    ``length_from_cli``: ``max_steps`` came from the command line, so warmup takes at
    most 10% of it. ``report_to``: ``"tensorboard"`` also writes OUT/tensorboard/
    (``prover_models.run_log``). Every input is checked before anything is written. Writes
    ``out_dir``/: ``checkpoint-STEP/``, ``adapter/`` (final adapter + tokenizer),
    ``metrics.jsonl``, ``progress.md``, ``summary.json``. Under torchrun every process
    calls this; rank 0 alone writes and speaks (``Result.primary``).
    """
    world_size, primary = processes(), launched_rank() == 0
    say = say if primary else (lambda _: None)
    inputs = load_inputs(cfg, train_path, val_path, from_run, config_file, world_size)
    out_dir = Path(out_dir)
    start_from = resume_point(resume, out_dir, complete_checkpoints(out_dir), check=_check_resume_path)
    saved = check_resumable(start_from, inputs.meta, config_file) if start_from else None
    if saved and saved["step"] > cfg.max_steps:
        raise InputError.one(config_file, f"{start_from.name} is at step {saved['step']:,}, past max_steps "
                                          f"{cfg.max_steps:,}", key="train.dpo.max_steps")
    if resume is not None and start_from is None:
        say(f"no checkpoint in {out_dir} yet: starting from step 0")
    for split, n in inputs.dropped.items():
        if n:
            say(f"left out {n:,} {split} pairs whose prompt alone fills max_seq_len {cfg.max_seq_len}")
    cfg = fit_warmup(cfg, cfg.max_steps, section="dpo", say=say,
                     override=f"--max-steps {cfg.max_steps}" if length_from_cli else None)
    dtype = resolve_dtype(cfg.dtype, device)
    lock = exclusive(out_dir / ".lock", what=f"the DPO run in {out_dir}") if primary else nullcontext()
    with lock, warnings.catch_warnings():
        # transformers 5 renamed gradient_checkpointing*; TRL and peft call the old names. Harmless.
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing", category=FutureWarning)
        model, peft_config, lora = starting_policy(inputs.model_dir, cfg, dtype, inputs.adapter, config_file, say)
        trainer = _PairTrainer(
            model=model, args=trl_config(cfg, out_dir, device, dtype, saved is None, world_size),
            train_dataset=inputs.train, eval_dataset=inputs.val, processing_class=inputs.tokenizer,
            peft_config=peft_config, meta=inputs.meta, tokens=saved.get("tokens") if saved else None)
        if cfg.batching == "packed":
            check_padding_free(trainer, [inputs.train[i]["prompt_ids"] + inputs.train[i]["chosen_ids"]
                                         for i in range(min(2, len(inputs.train)))], config_file)
        history = saved["history"] + [{"kind": "resume", "step": saved["step"], "from": str(start_from)}] \
            if saved else [{"kind": "start", "from": inputs.meta["from"]}]
        with RunLog(out_dir / LOG_FILE if primary else None, history, report_to=report_to) as log:
            trainer.log_records = log
            _quiet(trainer)
            trainer.add_callback(_Recorder(log, progress, cfg.max_steps, say))
            trainable, total = count_parameters(trainer.model)
            say(f"trainable params: {format_parameters(trainable, total)}; {len(inputs.train):,} train pairs, "
                f"{len(inputs.val):,} val pairs; batching {cfg.batching}"
                + (f"; {world_size} processes" if world_size > 1 else "")
                + (f"; starting from {inputs.adapter}" if inputs.adapter else ""))
            first_step, started = saved["step"] if saved else 0, time.perf_counter()
            trainer.train(resume_from_checkpoint=str(start_from) if start_from else None)
            seconds = time.perf_counter() - started
            trainer.tokens.settle(trainer.accelerator)  # the micro-batches after the last log line
            final = _final_eval(trainer, log)
        summary = _summary(cfg, inputs, out_dir, device, dtype, lora, (trainable, total), (first_step, seconds),
                           trainer, history, final)
        if primary:
            _write_results(out_dir, trainer.model, inputs.tokenizer, summary)
        return Result(summary=summary, model=trainer.model, primary=primary)


def _quiet(trainer) -> None:
    """Trainer's own printing off: its lines would land on stdout, which --json keeps for the summary."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def _final_eval(trainer, log: RunLog) -> dict:
    """The eval at the last step: the one the cadence ran there, else a new one over the whole val set."""
    step = trainer.state.global_step
    last = [r for r in log.history if r["kind"] == "eval" and r["step"] == step]
    if not last:
        trainer.evaluate()
        last = [r for r in log.history if r["kind"] == "eval" and r["step"] == step]
    return {k: v for k, v in last[-1].items() if k not in ("kind", "step", "epoch")}


def _summary(cfg: DPOTrainer, inputs: _Inputs, out_dir: Path, device: str, dtype: torch.dtype, lora: dict,
             params: tuple[int, int], timing: tuple[int, float], trainer: _PairTrainer, history: list[dict],
             final: dict) -> dict:
    """The run's figures, JSON-ready. ``timing``: the step this process started at, and its seconds."""
    evals = [r for r in history if r["kind"] == "eval"]
    (first_step, seconds), step = timing, trainer.state.global_step
    trained = step - first_step
    real, computed = trainer.tokens.total
    return {
        "model": str(inputs.model_dir),
        "from": inputs.meta["from"],
        "out": str(out_dir),
        "adapter": str(out_dir / "adapter"),
        "device": device,
        "dtype": str(dtype).removeprefix("torch."),
        "lora": lora,
        "beta": cfg.beta,
        "trainable_params": params[0],
        "total_params": params[1],
        "trainable": format_parameters(*params),
        "train_pairs": len(inputs.train),
        "val_pairs": len(inputs.val),
        "dropped_long_prompts": inputs.dropped,
        "max_seq_len": cfg.max_seq_len,
        "truncated_pairs": {split: sum(n > cfg.max_seq_len for n in data["length"])
                            for split, data in (("train", inputs.train), ("val", inputs.val))},
        "batching": cfg.batching,
        "processes": trainer.args.world_size,
        "real_tokens": real,
        "computed_tokens": computed,
        "token_efficiency": real / computed if computed else None,
        "steps": step,
        "runtime_s": seconds,
        "steps_per_s": trained / seconds if trained else None,
        "pairs_per_s": trained * cfg.batch_size * cfg.grad_accum / seconds if trained else None,
        "initial_eval": {k: v for k, v in evals[0].items() if k not in ("kind", "step", "epoch")} if evals else None,
        "final_eval": final,
        "progress": [r for r in history if r["kind"] in ("train", "eval")],
    }


def progress_table(history: list[dict]) -> str:
    """The run's progress as Markdown: each train log step and each evaluation, TRL's metrics."""
    lines = ["| Step | Split | " + " | ".join(METRICS.values()) + " |", "|---:|---|" + "---:|" * len(METRICS)]
    for r in history:
        if r["kind"] in ("train", "eval"):
            cells = [f"{r[k]:.4f}" if r.get(k) is not None else "—" for k in METRICS]
            lines.append(f"| {r['step']:,} | {r['kind']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(summary: dict) -> str:
    """The run's report: the progress table and the final evaluation."""
    final = summary["final_eval"]
    head = (f"## DPO (LoRA, beta {summary['beta']})\n\n**Trainable parameters**: {summary['trainable']}; "
            f"{summary['train_pairs']:,} train pairs, {summary['val_pairs']:,} val pairs"
            + (f"; from {summary['from']}" if summary["from"] else "; from the base model") + "\n")
    processes = f" on {summary['processes']} processes" if summary["processes"] > 1 else ""
    efficiency = summary["token_efficiency"]
    head += (f"\n**Batching**: {summary['batching']}{processes}; token efficiency "
             + (f"{efficiency:.3f} ({summary['real_tokens']:,} real tokens of {summary['computed_tokens']:,} "
                "computed, chosen and rejected rows)" if efficiency is not None else "— (no step trained here)")
             + "".join(f"; {n:,} {split} pairs cut at max_seq_len {summary['max_seq_len']:,}"
                       for split, n in summary["truncated_pairs"].items() if n) + "\n")
    tail = (f"\n**Final eval** (step {summary['steps']:,}): margin {final['rewards/margins']:.4f}, accuracy "
            f"{final['rewards/accuracies']:.4f}, loss {final['loss']:.4f}\n")
    return head + "\n" + progress_table(summary["progress"]) + "\n" + tail


def _write_results(out_dir: Path, model, tokenizer, summary: dict) -> None:
    """OUT/adapter/ (the trained adapter alone, not TRL's reference copy), summary.json, progress.md."""
    with atomic_dir(out_dir / "adapter") as tmp:
        model.save_pretrained(tmp, selected_adapters=["default"])
        tokenizer.save_pretrained(tmp)
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    atomic_write_text(out_dir / "progress.md", markdown(summary))
