"""Train the byte-level GPT on a certificate corpus, as the plan lays it out.

The procedure, top to bottom (``train``):

1. Pack ``train.txt`` and ``val.txt`` of a corpus written by ``prover-data
   export-certificates`` into rows of ``context_length + 1`` bytes (whole
   certificates only).
2. Build the model from the manifest's ``[train.chargpt]``; seed everything.
3. AdamW (betas 0.9/0.95, weight decay on linear matrices only, see
   ``CharGPT.optimizer_groups``); the learning rate warms up linearly for
   ``warmup_steps`` optimizer steps, then follows a cosine from ``peak_lr`` down to
   ``final_lr`` at the last step of the last epoch. When ``--epochs`` sets the run's
   length, warmup takes at most 10% of it (``prover_models.schedule``).
4. Each optimizer step sees ``tokens_per_batch`` bytes: ``micro_batch_size`` rows per
   forward pass, ``grad_accum`` passes per step. The loss of a step is the mean over
   every non-padding target of the step (not a mean of micro-batch means), gradients
   are clipped to norm ``grad_clip``. On a GPU the forward pass runs under bf16
   autocast.
5. After each epoch: validation loss and perplexity, a checkpoint with optimizer
   state (the best ``keep_best`` by validation loss are kept, plus ``last.pt``), the
   training curve (``curve.png``), and early stopping once validation loss has not
   improved for ``patience`` epochs.

Everything a run depends on is in ``config.json`` (hyper-parameters, derived sizes,
corpus file hashes, versions); ``metrics.jsonl`` has one line per logged step and
per epoch. The data order is a function of (seed, epoch) and the checkpoint holds the
random state, so a run resumed from ``last.pt`` (taken at an epoch end, or where
``--max-steps`` stopped it) continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from prover_data.atomic import atomic_file, atomic_write_text
from prover_data.errors import InputError, Problem
from prover_data.manifest import CharGPTTrainer, Manifest
from prover_models.chargpt.model import CharGPT, GPTConfig
from prover_models.data import PackedCertificates, epoch_order
from prover_models.devices import pick_device
from prover_models.resume import refuse_earlier_run, resume_point
from prover_models.run_log import RunLog
from prover_models.schedule import fit_warmup, learning_rate

LAST = "last.pt"


def lr_at(step: int, cfg: CharGPTTrainer, total_steps: int) -> float:
    """Learning rate of optimizer step ``step`` (0-based): warmup to ``peak_lr``, cosine to ``final_lr``."""
    return learning_rate(step, peak=cfg.peak_lr, warmup_steps=cfg.warmup_steps, total_steps=total_steps,
                         final=cfg.final_lr)


def _check(cfg: CharGPTTrainer, manifest: Manifest) -> None:
    problems = []
    key = "train.chargpt."

    def bad(name: str, message: str) -> None:
        problems.append(Problem(str(manifest.path), message, key=key + name))

    if cfg.vocab_size != 256:
        bad("vocab_size", f"the model reads UTF-8 bytes: expected 256, got {cfg.vocab_size}")
    for name in ("context_length", "d_model", "n_layers", "n_heads", "d_mlp", "epochs", "tokens_per_batch",
                 "micro_batch_size", "patience", "keep_best", "log_every"):
        if getattr(cfg, name) < 1:
            bad(name, f"expected at least 1, got {getattr(cfg, name)}")
    if cfg.warmup_steps < 0:
        bad("warmup_steps", f"expected 0 or more, got {cfg.warmup_steps}")
    if not 0.0 <= cfg.dropout < 1.0:
        bad("dropout", f"expected a number in [0, 1), got {cfg.dropout}")
    if problems:
        raise InputError(problems)


class Checkpoints:
    """``epoch_NNN.pt`` files of a run directory, the best ``keep`` by val loss, and ``last.pt``."""

    def __init__(self, out: Path, keep: int):
        self.out, self.keep = out, keep

    def save_epoch(self, state: dict, epoch: int, history: list[dict]) -> None:
        path = self.out / f"epoch_{epoch:03d}.pt"
        _save(state, path)
        tmp = self.out / f".{LAST}.link"  # last.pt is the same file, linked
        tmp.unlink(missing_ok=True)
        os.link(path, tmp)
        os.replace(tmp, self.out / LAST)
        ranked = sorted((h for h in history if h.get("kind") == "epoch"), key=lambda h: (h["val_loss"], h["epoch"]))
        keep = {f"epoch_{h['epoch']:03d}.pt" for h in ranked[:self.keep]}
        for p in self.out.glob("epoch_*.pt"):
            if p.name not in keep:
                p.unlink()

    def save_last(self, state: dict) -> None:
        _save(state, self.out / LAST)

    def kept(self) -> list[Path]:
        return sorted(self.out.glob("epoch_*.pt"))


def _save(state: dict, path: Path) -> None:
    with atomic_file(path) as f:
        torch.save(state, f)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How a corpus of packed rows and [train.chargpt] turn into optimizer steps."""

    rows_per_micro: int
    grad_accum: int
    rows_per_step: int
    steps_per_epoch: int
    total_steps: int

    @classmethod
    def of(cls, cfg: CharGPTTrainer, train_rows: int) -> "Sizes":
        grad_accum = max(1, math.ceil(cfg.tokens_per_batch / (cfg.micro_batch_size * cfg.context_length)))
        rows_per_step = cfg.micro_batch_size * grad_accum
        steps_per_epoch = math.ceil(train_rows / rows_per_step)
        return cls(cfg.micro_batch_size, grad_accum, rows_per_step, steps_per_epoch, cfg.epochs * steps_per_epoch)


@dataclasses.dataclass
class _Run:
    """What the steps of one run touch: settings, data, model, optimizer, state and outputs."""

    cfg: CharGPTTrainer
    sizes: Sizes
    train_set: PackedCertificates
    val_set: PackedCertificates
    model: CharGPT
    optimizer: torch.optim.Optimizer
    dev: torch.device
    autocast: Any
    config: dict
    state: dict
    out: Path
    checkpoints: Checkpoints
    log: Callable[[str], None]
    records: RunLog  # metrics.jsonl (and TensorBoard): its history is state["history"]
    t0: float = 0.0
    tokens_seen: int = 0

    def snapshot(self) -> dict:
        """A checkpoint: weights, optimizer, settings, random state and where the run is."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "config": self.config,
                "rng": {"torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state_all() if self.dev.type == "cuda" else None},
                **{k: self.state[k] for k in STATE_KEYS}}


STATE_KEYS = ("epoch", "step_in_epoch", "global_step", "history", "epoch_loss", "epoch_targets", "stopped")


def train(manifest: Manifest, certificates: str | Path, out: str | Path, *, epochs: int | None = None,
          max_steps: int | None = None, resume: str | None = None, device: str = "auto",
          log=print, progress=None, report_to: str = "none") -> dict:
    """Train (or resume) a run in ``out``; return its summary (also in ``summary.json``).

    ``resume``: None starts fresh (refusing a directory that already holds a run),
    ``"auto"`` continues from ``out/last.pt`` when there is one, a path continues from
    that checkpoint. ``max_steps`` stops this run after that many optimizer steps in
    all (the schedule, warmup included, still spans every epoch), leaving a resumable
    ``last.pt``. ``epochs`` overrides the manifest's and caps the warmup to fit
    (``prover_models.schedule``). ``report_to``: ``"tensorboard"`` also writes
    OUT/tensorboard/ (``prover_models.run_log``).
    """
    cfg = manifest.train.chargpt
    if epochs is not None:
        cfg = dataclasses.replace(cfg, epochs=epochs)
    _check(cfg, manifest)
    out = Path(out)
    certificates = Path(certificates)
    checkpoint = resume_point(resume, out, [out / LAST] if (out / LAST).exists() else [], check=_check_checkpoint)
    train_set, val_set = _load_corpus(certificates, cfg.context_length)
    sizes = Sizes.of(cfg, len(train_set))
    cfg = fit_warmup(cfg, sizes.total_steps, section="chargpt", say=log,
                     override=f"--epochs {epochs}" if epochs is not None else None)
    run = _start(manifest, cfg, sizes, train_set, val_set, certificates, out, checkpoint, device, log, report_to)
    with run.records:
        return _epochs(run, max_steps, progress)


def _epochs(run: _Run, max_steps: int | None, progress) -> dict:
    """The epochs left to train, each a seeded order of the rows; stops at ``max_steps`` or early."""
    cfg, sizes, state, out, log = run.cfg, run.sizes, run.state, run.out, run.log

    task = progress.add_task("train", total=sizes.total_steps, completed=state["global_step"]) if progress else None
    run.t0 = time.perf_counter()
    while state["epoch"] < cfg.epochs and state["stopped"] is None:
        order = epoch_order(len(run.train_set), cfg.seed, state["epoch"])
        run.model.train()
        while state["step_in_epoch"] < sizes.steps_per_epoch:
            if max_steps is not None and state["global_step"] >= max_steps:
                run.checkpoints.save_last(run.snapshot())
                log(f"stopped at step {state['global_step']} (--max-steps); resume with --resume auto")
                return _finish(out, run.config, state["history"], run.checkpoints, state, stopped_at_max=True)
            _step(run, order)
            if progress:
                progress.advance(task)
        _end_epoch(run)
    return _finish(out, run.config, state["history"], run.checkpoints, state, stopped_at_max=False)


def _load_corpus(certificates: Path, context_length: int) -> tuple[PackedCertificates, PackedCertificates]:
    """train.txt and val.txt packed into rows; neither may come out empty."""
    train_set = PackedCertificates(certificates, "train", context_length)
    val_set = PackedCertificates(certificates, "val", context_length)
    for split, ds in (("train", train_set), ("val", val_set)):
        if len(ds) == 0:
            raise InputError.one(str(ds.path), f"no {split} certificate fits a {context_length}-byte context "
                                 f"({ds.packed.too_long} are longer); raise [train.chargpt] context_length or "
                                 "export with [certificates] states = \"first\"")
    return train_set, val_set


def _start(manifest: Manifest, cfg: CharGPTTrainer, sizes: Sizes, train_set: PackedCertificates,
           val_set: PackedCertificates, certificates: Path, out: Path, checkpoint: Path | None, device: str,
           log, report_to: str) -> _Run:
    """Seeded model and optimizer, restored from ``checkpoint`` or fresh; ``out/config.json`` written."""
    dev = torch.device(pick_device(device))
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    model = CharGPT(GPTConfig.from_trainer(cfg)).to(dev)
    optimizer = torch.optim.AdamW(model.optimizer_groups(cfg.weight_decay), lr=cfg.peak_lr,
                                  betas=(cfg.beta1, cfg.beta2), fused=dev.type == "cuda")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else contextlib.nullcontext()
    config = _config(manifest, cfg, sizes, model, train_set, val_set, certificates, dev)

    state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "history": [], "epoch_loss": 0.0,
             "epoch_targets": 0, "stopped": None}
    if checkpoint is not None:
        state = _restore(checkpoint, config, model, optimizer, dev)
    elif (out / "config.json").exists():  # a run that stopped before its first checkpoint
        refuse_earlier_run(out, "config.json")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
    log(f"chargpt: {model.num_parameters():,} parameters, {len(train_set):,} train / {len(val_set):,} val sequences "
        f"of {cfg.context_length + 1} bytes, {sizes.grad_accum} x {sizes.rows_per_micro} rows per step, "
        f"{sizes.steps_per_epoch} steps per epoch, {cfg.epochs} epochs, on {dev}")
    return _Run(cfg, sizes, train_set, val_set, model, optimizer, dev, autocast, config, state, out,
                Checkpoints(out, cfg.keep_best), log, RunLog(out / "metrics.jsonl", state["history"], report_to=report_to))


def _config(manifest: Manifest, cfg: CharGPTTrainer, sizes: Sizes, model: CharGPT, train_set: PackedCertificates,
            val_set: PackedCertificates, certificates: Path, dev: torch.device) -> dict:
    """Everything the run depends on (``config.json``); a resumed run must match its trainer and corpus."""
    return {
        "trainer": dataclasses.asdict(cfg),
        "model": dataclasses.asdict(model.config),
        "derived": {"grad_accum": sizes.grad_accum, "rows_per_step": sizes.rows_per_step,
                    "tokens_per_step": sizes.rows_per_step * cfg.context_length,
                    "steps_per_epoch": sizes.steps_per_epoch, "total_steps": sizes.total_steps,
                    "parameters": model.num_parameters(),
                    "train_sequences": len(train_set), "val_sequences": len(val_set),
                    "train_too_long": train_set.packed.too_long, "val_too_long": val_set.packed.too_long,
                    "train_padding_share": round(train_set.packed.padding_share(), 6)},
        "corpus": {"directory": str(certificates.resolve()), "files": _corpus_hashes(certificates)},
        "manifest": {"name": manifest.name, "hash": manifest.digest()},
        "device": str(dev), "precision": "bf16 autocast" if dev.type == "cuda" else "fp32",
        "versions": {"torch": str(torch.__version__)},
    }


def _step(run: _Run, order: np.ndarray) -> None:
    """One optimizer step over the epoch's next rows; its loss is the mean over all their targets."""
    cfg, sizes, state = run.cfg, run.sizes, run.state
    s = state["step_in_epoch"]
    rows = order[s * sizes.rows_per_step:(s + 1) * sizes.rows_per_step]
    n_targets = run.train_set.target_count(rows)
    lr = lr_at(state["global_step"], cfg, sizes.total_steps)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    step_loss = 0.0
    for m in range(0, len(rows), sizes.rows_per_micro):
        x, y = run.train_set[rows[m:m + sizes.rows_per_micro]]
        x, y = x.to(run.dev, non_blocking=True), y.to(run.dev, non_blocking=True)
        with run.autocast:
            _, loss = run.model(x, y, label_smoothing=cfg.label_smoothing, reduction="sum")
        (loss / n_targets).backward()
        step_loss += loss.item()
    grad_norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip).item()
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    state["epoch_loss"] += step_loss
    state["epoch_targets"] += n_targets
    state["step_in_epoch"] += 1
    state["global_step"] += 1
    run.tokens_seen += len(rows) * cfg.context_length
    if state["global_step"] % cfg.log_every == 0:
        line = {"kind": "step", "step": state["global_step"], "epoch": state["epoch"], "lr": lr,
                "train_loss": step_loss / n_targets, "grad_norm": grad_norm,
                "tokens_per_s": run.tokens_seen / (time.perf_counter() - run.t0)}
        run.records.record(**line)


def _end_epoch(run: _Run) -> None:
    """Validation loss, the epoch's metrics line, early stopping, the epoch checkpoint and the curve."""
    cfg, state, history = run.cfg, run.state, run.state["history"]
    epoch = state["epoch"]
    val_loss = evaluate(run.model, run.val_set, cfg.micro_batch_size, run.dev, run.autocast)
    train_loss = state["epoch_loss"] / max(1, state["epoch_targets"])
    line = {"kind": "epoch", "epoch": epoch + 1, "step": state["global_step"], "train_loss": train_loss,
            "val_loss": val_loss, "val_perplexity": math.exp(val_loss), "gap": val_loss - train_loss,
            "lr": lr_at(state["global_step"] - 1, cfg, run.sizes.total_steps)}
    run.records.record(**line)
    epochs_seen = [h for h in history if h["kind"] == "epoch"]
    best = min(epochs_seen, key=lambda h: (h["val_loss"], h["epoch"]))
    run.log(f"epoch {epoch + 1}/{cfg.epochs}: train loss {train_loss:.4f}, val loss {val_loss:.4f} "
            f"(perplexity {math.exp(val_loss):.3f}), best epoch {best['epoch']}")
    state.update(epoch=epoch + 1, step_in_epoch=0, epoch_loss=0.0, epoch_targets=0)
    if epoch + 1 - best["epoch"] >= cfg.patience and epoch + 1 < cfg.epochs:
        state["stopped"] = f"val loss has not improved for {cfg.patience} epochs (best: epoch {best['epoch']})"
        run.log(f"early stop: {state['stopped']}")
    run.checkpoints.save_epoch(run.snapshot(), epoch + 1, history)
    plot_curve(history, run.out / "curve.png")


@torch.no_grad()
def evaluate(model: CharGPT, dataset: PackedCertificates, batch_rows: int, dev, autocast) -> float:
    """Mean cross-entropy (nats per byte) over every non-padding target of ``dataset``."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(dataset), batch_rows):
        rows = np.arange(start, min(start + batch_rows, len(dataset)))
        x, y = dataset[rows]
        with autocast:
            _, loss = model(x.to(dev), y.to(dev), reduction="sum")
        total += loss.item()
        count += dataset.target_count(rows)
    model.train()
    return total / max(1, count)


def _check_checkpoint(path: Path) -> None:
    if not path.is_file():
        raise InputError.one(str(path), "no such checkpoint to resume from")


def _restore(path: Path, config: dict, model, optimizer, dev) -> dict:
    try:
        ckpt = torch.load(path, map_location=dev, weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise InputError.one(str(path), f"not a readable checkpoint: {e}") from None
    for part in ("trainer", "corpus"):
        if ckpt["config"][part] != config[part]:
            old, new = ckpt["config"][part], config[part]
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise InputError.one(str(path), f"was trained with other {part} settings ({', '.join(diff)}); "
                                 "resume with the same manifest and corpus, or start a new --out")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    torch.set_rng_state(ckpt["rng"]["torch"].cpu())
    if ckpt["rng"]["cuda"] is not None and dev.type == "cuda":
        torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
    return {k: ckpt[k] for k in STATE_KEYS}


def _corpus_hashes(directory: Path) -> dict[str, str]:
    from prover_data.identity import file_digest

    return {name: file_digest(directory / name) for name in ("train.txt", "val.txt")}


def _finish(out: Path, config: dict, history: list[dict], checkpoints: Checkpoints, state: dict,
            *, stopped_at_max: bool) -> dict:
    epochs = [h for h in history if h["kind"] == "epoch"]
    best = min(epochs, key=lambda h: (h["val_loss"], h["epoch"])) if epochs else None
    summary = {
        "out": str(out),
        "parameters": config["derived"]["parameters"],
        "epochs_done": state["epoch"],
        "steps_done": state["global_step"],
        "finished": not stopped_at_max,
        "early_stop": state["stopped"],
        "best": best,
        "last": epochs[-1] if epochs else None,
        "checkpoints": [p.name for p in checkpoints.kept()],
        "curve": "curve.png" if epochs else None,
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def plot_curve(history: list[dict], path: Path) -> None:
    """Training and validation loss per epoch, training loss per logged step, learning rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h for h in history if h["kind"] == "step"]
    epochs = [h for h in history if h["kind"] == "epoch"]
    fig, (ax, ax_lr) = plt.subplots(1, 2, figsize=(11, 4))
    if steps:
        ax.plot([h["step"] for h in steps], [h["train_loss"] for h in steps], color="0.75", lw=1,
                label="train (logged steps)")
    ax.plot([h["step"] for h in epochs], [h["train_loss"] for h in epochs], "o-", label="train (epoch)")
    ax.plot([h["step"] for h in epochs], [h["val_loss"] for h in epochs], "s-", label="val (epoch)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats per byte)")
    ax.set_title("char-level GPT on proof certificates")
    ax.legend()
    lr_points = steps or epochs
    ax_lr.plot([h["step"] for h in lr_points], [h["lr"] for h in lr_points])
    ax_lr.set_xlabel("optimizer step")
    ax_lr.set_ylabel("learning rate")
    fig.tight_layout()
    with atomic_file(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
