"""Energy-based value model: one scalar energy per proof-state embedding.

Lower energy means more provable. The search mixes ``-energy`` into the LLM's score
when it picks the next node to expand; the head is trained contrastively, each
sample pairing a state on a found proof path with K states off it, and InfoNCE asks
the positive to have the lowest energy of the K + 1.

Everything below follows BurnQED's ``crates/ebm`` so that a head trained here is the
head the iteration-4 report trained:

Architecture (``model/energy_head.rs``, ``model/spectral_norm.rs``)
    d -> 2048 -> 1024 -> 512 -> 1, SiLU then dropout after each hidden layer, no bias
    on the output layer. Weights are Kaiming-normal, N(0, 2 / fan_in); biases zero.
    A learnable log-temperature (init -2.3, T ~ 0.1, clamped to [-5, 2]) divides the
    energies before InfoNCE and before the metrics; the raw energy is what the depth
    term and inference use. 11,014,145 parameters at d = 4096. Spectral norm is off
    by default, as in BurnQED; when on it is torch's parametrization (one power
    iteration per step with persistent vectors, where BurnQED redraws its vectors and
    runs five: both estimate the same largest singular value).

Loss (``training/loss.rs``)
    InfoNCE: cross-entropy over logits ``[-E_pos, -E_neg_1 .. -E_neg_K]`` with the
    positive as the class, plus ``depth_loss_weight`` (0.3) times the mean squared
    difference between a positive's raw energy and its remaining proof depth divided
    by the batch's largest depth (positives of unknown depth left out). The report's
    loss columns are this total, which is why step 0 starts above ln(8) = 2.08.

Metrics (``training/metrics.rs``), on temperature-scaled energies
    gap  = mean negative energy - mean positive energy;
    rank = fraction of samples whose positive energy is strictly below all K of its
           negatives' (BurnQED's ``rank_accuracy``; a tie counts as a miss).
    Train figures at a log step are the mean over the steps since the previous log
    step (BurnQED's running average); validation figures are over a fixed subset of
    ``contrastive_val`` (``val_batches`` x ``batch_size`` samples) with dropout off.

Optimizer and schedule (``training/trainer.rs``)
    AdamW (weight decay 0.01, epsilon 1e-5 as in burn), global grad-norm clip 1.0,
    learning rate ``base * (s + 1) / warmup`` for s < warmup, then cosine to 0 at the
    last step (``prover_models.schedule``). The report's LR column pins the warmup: 3.00e-8 at step 0 is
    3e-5 * 1 / 1000, and 2.98e-5 at step 2,000 is the cosine 1,000 of 19,000 steps in.

Where this differs from BurnQED, on purpose: batches come from the build's
materialized ``contrastive_train`` table in seeded epochs (BurnQED draws fresh
samples from unseeded randomness), the validation subset is the same at every log
step (BurnQED redraws it), a state without an embedding is an error instead of a
skipped step, and the best-validation head is kept.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from prover_data.atomic import atomic_file, atomic_write_bytes, atomic_write_text
from prover_data.errors import InputError, Problem
from prover_data.manifest import EBMTrainer, Embeddings
from prover_models.data import contrastive_loader, widen
from prover_models.resume import resume_point
from prover_models.run_log import RunLog
from prover_models.schedule import fit_warmup, learning_rate

CHECKPOINT_VERSION = 1
METRICS = ("loss", "gap", "rank", "pos_energy", "neg_energy")  # per-batch figures, in this order


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class EnergyHeadConfig:
    d_encoder: int
    hidden_dims: tuple[int, ...] = (2048, 1024, 512)
    dropout: float = 0.1
    spectral_norm: bool = False
    init_log_temperature: float = -2.3

    @classmethod
    def from_trainer(cls, cfg: EBMTrainer, d_encoder: int) -> "EnergyHeadConfig":
        return cls(d_encoder, tuple(cfg.hidden_dims), cfg.dropout, cfg.spectral_norm, cfg.init_log_temperature)


class EnergyHead(nn.Module):
    """MLP from a state embedding [B, d] to a raw energy [B]."""

    def __init__(self, config: EnergyHeadConfig):
        super().__init__()
        self.config = config
        dims = (config.d_encoder, *config.hidden_dims)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(dims[-1], 1, bias=False)
        self.drop = nn.Dropout(config.dropout)
        self.log_temperature = nn.Parameter(torch.tensor(float(config.init_log_temperature)))
        for layer in (*self.hidden, self.out):
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0 / layer.in_features))
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        if config.spectral_norm:
            for layer in (*self.hidden, self.out):
                nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x)).squeeze(-1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer [B, hidden_dims[-1]]: the head's own embedding of a state."""
        for layer in self.hidden:
            x = self.drop(F.silu(layer(x)))
        return x

    def temperature_scale(self, energy: torch.Tensor) -> torch.Tensor:
        """Energy / T for InfoNCE; T = exp(log_temperature clamped to [-5, 2])."""
        return energy / self.log_temperature.clamp(-5.0, 2.0).exp()


# --------------------------------------------------------------------------- loss and metrics


def info_nce_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of picking the positive [B] among itself and its negatives [B, K]."""
    logits = torch.cat([-pos.unsqueeze(1), -neg], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(pos), dtype=torch.long, device=pos.device))


def depth_regression_loss(energy: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """MSE between raw energy and depth / max depth of the batch, over known depths (>= 0)."""
    known = (depth >= 0).to(energy.dtype)
    target = depth.to(energy.dtype) / depth.max().clamp(min=1).to(energy.dtype)
    return ((energy - target) ** 2 * known).sum() / known.sum().clamp(min=1.0)


def batch_metrics(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """[gap, rank, mean positive energy, mean negative energy] of one batch, on its device."""
    rank = (pos < neg.min(dim=1).values).to(pos.dtype).mean()
    return torch.stack([neg.mean() - pos.mean(), rank, pos.mean(), neg.mean()])


def step_loss(model: EnergyHead, pos: torch.Tensor, neg: torch.Tensor, depth: torch.Tensor,
              depth_loss_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Total loss of one batch and its ``METRICS`` vector (detached).

    Positives and negatives go through the head in one forward pass.
    """
    b, k, d = neg.shape
    raw = model(torch.cat([pos, neg.reshape(b * k, d)]))
    scaled = model.temperature_scale(raw)
    pos_e, neg_e = scaled[:b], scaled[b:].view(b, k)
    loss = info_nce_loss(pos_e, neg_e)
    if depth_loss_weight:
        loss = loss + depth_loss_weight * depth_regression_loss(raw[:b], depth)
    metrics = torch.cat([loss.detach().unsqueeze(0), batch_metrics(pos_e.detach(), neg_e.detach())])
    return loss, metrics


@torch.no_grad()
def evaluate(model: EnergyHead, data, indices: np.ndarray, batch_size: int, depth_loss_weight: float,
             device: torch.device) -> dict[str, float]:
    """``METRICS`` over ``data[indices]`` with dropout off, weighted by batch size."""
    was_training = model.training
    model.eval()
    total = torch.zeros(len(METRICS), dtype=torch.float64, device=device)
    for start in range(0, len(indices), batch_size):
        batch = widen(data[indices[start:start + batch_size]], device)
        _, metrics = step_loss(model, batch["pos"], batch["neg"], batch["depth"], depth_loss_weight)
        total += metrics.double() * len(batch["pos"])
    model.train(was_training)
    return dict(zip(METRICS, (total / max(1, len(indices))).tolist()))


# --------------------------------------------------------------------------- training


@dataclass
class RunSummary:
    out_dir: str
    steps: int  # steps done
    total_steps: int
    best_val_loss: float | None
    best_step: int | None
    log: list[dict]
    stopped_early: bool = False  # asked to stop (Ctrl-C); resume with the same command
    # per split, what samples lost to states without a vector (``MissingReport.as_dict``)
    missing: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def train(cfg: EBMTrainer, train_set, val_set, out_dir: str | Path, *, device: str | torch.device = "cpu",
          resume: str | Path | None = None, meta: dict | None = None,
          on_step: Callable[[int, dict | None], bool | None] | None = None, length_from_cli: bool = False,
          report_to: str = "none", say: Callable[[str], None] = print) -> RunSummary:
    """Train an energy head on ``train_set``; checkpoints, log and plot go to ``out_dir``.

    ``train_set`` / ``val_set`` are ``prover_models.data.ContrastiveSamples``. ``meta``
    describes the data (file digests, embedding version, dtype, encoder); a checkpoint
    only resumes a run with the same ``cfg`` and ``meta``. ``resume``: a ``last.pt``,
    ``"auto"`` (``out_dir/last.pt`` when there is one) or None (afresh, over whatever is
    there; ``prover_models.resume``). ``on_step(step, row)`` is called after every step,
    with the log row at log steps; returning True stops after that step with a
    resumable checkpoint. ``length_from_cli``: ``steps`` came from the command line, so
    warmup takes at most 10% of them (``prover_models.schedule``). ``report_to``:
    ``"tensorboard"`` also writes OUT/tensorboard/ (``prover_models.run_log``).

    Files: ``last.pt`` (everything needed to resume: model, optimizer, RNG, step, running
    averages, log), ``best.pt`` (the head with the lowest validation loss so far),
    ``metrics.jsonl`` (one line per log step), ``curves.png``, ``progress.md`` (the
    report's table) and ``summary.json`` at the end.
    """
    out_dir, device = Path(out_dir), torch.device(device)
    cfg = fit_warmup(cfg, cfg.steps, section="ebm", say=say, override=f"--steps {cfg.steps}" if length_from_cli else None)
    start = resume_point(resume, out_dir, [out_dir / "last.pt"] if (out_dir / "last.pt").is_file() else [],
                         refuse_fresh=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    head = EnergyHeadConfig.from_trainer(cfg, train_set.embeddings.dim)
    meta = meta or {}

    torch.manual_seed(cfg.seed)
    model = EnergyHead(head).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay, eps=1e-5)
    state = {"step": 0, "running": torch.zeros(len(METRICS), dtype=torch.float64), "count": 0,
             "log": [], "best_val_loss": None, "best_step": None}
    if start is not None:
        state = _load_for_resume(start, cfg, head, meta, model, optimizer, device)
    running = state["running"].to(device)
    val_idx = val_set.sample(cfg.val_batches * cfg.batch_size, cfg.seed) if val_set is not None else None

    loader = contrastive_loader(train_set, cfg.batch_size, cfg.seed, state["step"], cfg.steps,
                                pin_memory=device.type == "cuda")
    model.train()
    stopped = False
    with RunLog(out_dir / "metrics.jsonl", state["log"], report_to=report_to) as log:
        for step, batch in zip(range(state["step"], cfg.steps), loader):
            lr = learning_rate(step, peak=cfg.learning_rate, warmup_steps=cfg.warmup_steps, total_steps=cfg.steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = widen(batch, device)
            loss, metrics = step_loss(model, batch["pos"], batch["neg"], batch["depth"], cfg.depth_loss_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            running += metrics.double()
            state["count"] += 1
            state["step"] = step + 1

            row = None
            last = step == cfg.steps - 1
            if step % cfg.log_every == 0 or last:
                row = _log_step(model, cfg, step, lr, running, state, val_set, val_idx, device, out_dir, head, meta)
                log.record(**row)
            if on_step is not None and on_step(step, row):
                stopped = not last
            if row is not None or stopped:
                state["running"] = running.cpu()
                _save_last(out_dir / "last.pt", model, optimizer, head, cfg, meta, state)
            if stopped:
                break

    return _finish(out_dir, cfg, state, stopped, {"train": train_set, "val": val_set})


def _log_step(model, cfg: EBMTrainer, step: int, lr: float, running: torch.Tensor, state: dict, val_set, val_idx,
              device, out_dir: Path, head, meta: dict) -> dict:
    """A log step's row: the running train figures (then reset), and validation where due (``best.pt`` kept)."""
    train_avg = dict(zip(METRICS, (running / state["count"]).tolist()))
    if not math.isfinite(train_avg["loss"]):
        raise FloatingPointError(f"training diverged before step {step} (loss {train_avg['loss']}); "
                                 f"the last good checkpoint is {out_dir / 'last.pt'}")
    row = {"step": step, "lr": lr, "temperature": model.log_temperature.clamp(-5, 2).exp().item(),
           **{f"train_{k}": v for k, v in train_avg.items()}}
    if val_idx is not None and (step % cfg.eval_every == 0 or step == cfg.steps - 1):
        val = evaluate(model, val_set, val_idx, cfg.batch_size, cfg.depth_loss_weight, device)
        row.update({f"val_{k}": v for k, v in val.items()})
        if state["best_val_loss"] is None or val["loss"] < state["best_val_loss"]:
            state["best_val_loss"], state["best_step"] = val["loss"], step
            _save_best(out_dir / "best.pt", model, head, step, val["loss"], meta)
    running.zero_()
    state["count"] = 0
    return row


def _finish(out_dir: Path, cfg: EBMTrainer, state: dict, stopped: bool, data: dict) -> RunSummary:
    """The run's summary (with what each split lost to missing vectors), written out."""
    missing = {split: d.missing.as_dict() for split, d in data.items() if d is not None}
    summary = RunSummary(str(out_dir), state["step"], cfg.steps, state["best_val_loss"], state["best_step"],
                         state["log"], stopped_early=stopped, missing=missing)
    write_reports(out_dir, summary)
    return summary


def write_reports(out_dir: Path, summary: RunSummary) -> None:
    """``progress.md``, ``curves.png`` and ``summary.json`` from a run's log."""
    atomic_write_text(out_dir / "progress.md", progress_table(summary.log) + "\n\n" + summary_lines(summary) + "\n")
    if summary.log:
        plot_curves(summary.log, out_dir / "curves.png")
    atomic_write_text(out_dir / "summary.json", json.dumps(summary.to_dict(), indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- checkpoints


def _save_last(path: Path, model, optimizer, head, cfg, meta, state) -> None:
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    payload = {"version": CHECKPOINT_VERSION, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
               "head": _plain(head), "trainer": _plain(cfg), "meta": meta, "rng": rng, **state}
    with atomic_file(path) as f:
        torch.save(payload, f)


def _save_best(path: Path, model, head, step: int, val_loss: float, meta: dict) -> None:
    payload = {"version": CHECKPOINT_VERSION, "model": model.state_dict(), "head": _plain(head),
               "step": step, "val_loss": val_loss, "meta": meta}
    with atomic_file(path) as f:
        torch.save(payload, f)


def _load_for_resume(path: Path, cfg, head, meta, model, optimizer, device) -> dict:
    ckpt = _read_checkpoint(path)
    changed = [f"train.ebm.{k}" for k, v in _plain(cfg).items() if ckpt["trainer"].get(k) != v]
    changed += [f"data: {k}" for k in sorted(set(meta) | set(ckpt["meta"])) if meta.get(k) != ckpt["meta"].get(k)]
    if ckpt["head"] != _plain(head):
        changed.append("energy head shape (embedding dim)")
    if changed:
        raise InputError.one(str(path), "checkpoint is of a different run; changed since: " + ", ".join(changed)
                             + " (start afresh with --resume none, or another --out)")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    if "cuda" in ckpt["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
    return {k: ckpt[k] for k in ("step", "running", "count", "log", "best_val_loss", "best_step")}


def _read_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise InputError.one(str(path), "no such checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which, not a pickle traceback
        raise InputError.one(str(path), f"not a readable checkpoint: {e}") from None
    if not isinstance(ckpt, dict) or ckpt.get("version") != CHECKPOINT_VERSION:
        raise InputError.one(str(path), f"not an EBM checkpoint of version {CHECKPOINT_VERSION}")
    return ckpt


def read_last(path: str | Path) -> dict:
    """The resume checkpoint's step and log, for reporting on a finished run."""
    ckpt = _read_checkpoint(Path(path))
    return {k: ckpt[k] for k in ("step", "log", "best_val_loss", "best_step", "trainer", "meta")}


def checkpoint_info(path: str | Path) -> dict:
    """``step`` (0-based, the progress table's numbering) whose weights ``best.pt`` or
    ``last.pt`` holds, and ``meta``: the data it was trained on (embedding dtype, dim, encoder)."""
    ckpt = _read_checkpoint(Path(path))
    done = "optimizer" in ckpt  # last.pt counts the steps done; best.pt names its log step
    return {"step": ckpt["step"] - 1 if done else ckpt["step"], "meta": ckpt["meta"]}


def load_energy_head(path: str | Path, device: str | torch.device = "cpu") -> EnergyHead:
    """An energy head from ``best.pt`` or ``last.pt``, in eval mode."""
    ckpt = _read_checkpoint(Path(path))
    head = dict(ckpt["head"], hidden_dims=tuple(ckpt["head"]["hidden_dims"]))
    model = EnergyHead(EnergyHeadConfig(**head))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()


def _plain(obj) -> dict:
    """A dataclass as a dict of plain values (tuples as lists), as torch.load returns it."""
    return json.loads(json.dumps(dataclasses.asdict(obj)))


# --------------------------------------------------------------------------- checks


def check_trainer(cfg: EBMTrainer, manifest_file: str) -> None:
    """Raise ``InputError`` naming each ``train.ebm`` value the trainer cannot use."""
    problems = []

    def bad(key: str, message: str) -> None:
        problems.append(Problem(manifest_file, message, key=f"train.ebm.{key}"))

    for key in ("batch_size", "steps", "log_every", "eval_every", "val_batches"):
        if getattr(cfg, key) < 1:
            bad(key, f"expected at least 1, got {getattr(cfg, key)}")
    if not cfg.hidden_dims or any(h < 1 for h in cfg.hidden_dims):
        bad("hidden_dims", f"expected a non-empty list of positive sizes, got {list(cfg.hidden_dims)}")
    if not 0.0 <= cfg.dropout < 1.0:
        bad("dropout", f"expected 0 <= dropout < 1, got {cfg.dropout}")
    for key in ("learning_rate", "max_grad_norm"):
        if not getattr(cfg, key) > 0:
            bad(key, f"expected a positive number, got {getattr(cfg, key)}")
    for key in ("weight_decay", "depth_loss_weight", "warmup_steps"):
        if getattr(cfg, key) < 0:
            bad(key, f"expected a non-negative number, got {getattr(cfg, key)}")
    if problems:
        raise InputError(problems)


def check_embeddings(embeddings, spec: Embeddings | None, *, source: str, manifest_file: str,
                     allow_dtype_cast: bool = False) -> list[str]:
    """Refuse embeddings other than the manifest's ``[embeddings]``; return warnings.

    A head trained on bf16 vectors and searched with fp16 ones scores states it has
    never seen (the report's cosine 0.945 incident), so a dtype other than the
    manifest's is an error unless the caller casts on purpose (``allow_dtype_cast``).
    A different encoder or dimension is always an error: no cast turns one model's
    hidden states into another's.
    """
    if spec is None:
        raise InputError.one(manifest_file, "no [embeddings] table: the EBM must know which encoder and dtype "
                                            "its embeddings come from", key="embeddings")
    problems, warnings = [], []
    encoder = embeddings.encoder or {}
    # The export's fingerprint (prover_data.embeddings.fingerprint) against the manifest's
    # keys; a value either side leaves unset is not compared.
    for key, manifest_key in (("model", "encoder"), ("revision", "revision"), ("pooling", "pooling"),
                              ("max_length", "max_length"), ("prompt", "prompt")):
        got, want = encoder.get(key), getattr(spec, manifest_key, None)
        if got is not None and want is not None and got != want:
            problems.append(Problem(source, f"embeddings were encoded with {key} {got!r}, but the manifest's "
                                            f"embeddings.{manifest_key} is {want!r}"))
    if spec.dim is not None and embeddings.dim != spec.dim:
        problems.append(Problem(source, f"embeddings have dimension {embeddings.dim}, but the manifest's "
                                        f"embeddings.dim is {spec.dim}"))
    if embeddings.dtype != spec.dtype:
        message = (f"embeddings are {embeddings.dtype}, but the manifest's embeddings.dtype is {spec.dtype}; "
                   "a head must be trained on the dtype the search encodes with")
        if allow_dtype_cast:
            warnings.append(message + " (training anyway: --allow-dtype-cast)")
        else:
            problems.append(Problem(source, message + " (re-export that dtype, or pass --allow-dtype-cast)"))
    if problems:
        raise InputError(problems)
    return warnings


# --------------------------------------------------------------------------- reporting

TABLE_COLUMNS = ("Step", "Train Loss", "Gap", "Rank", "Val Loss", "Val Gap", "Val Rank", "LR")


def progress_table(log: list[dict]) -> str:
    """The report's "EBM Training Progress" table (Markdown) from log rows."""
    def num(row, key, digits):
        return f"{row[key]:.{digits}f}" if key in row else "—"

    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "|".join("---" for _ in TABLE_COLUMNS) + "|"]
    for r in log:
        cells = (f"{r['step']:,}", num(r, "train_loss", 4), num(r, "train_gap", 2), num(r, "train_rank", 2),
                 num(r, "val_loss", 4), num(r, "val_gap", 2), num(r, "val_rank", 2), sci(r["lr"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def best_line(summary: RunSummary) -> str:
    if summary.best_val_loss is None:
        return "Best val loss: — (no validation set)"
    return f"Best val loss: {summary.best_val_loss:.4f} at step {summary.best_step:,}"


def summary_lines(summary: RunSummary) -> str:
    """The best-val line, and what states without a vector cost each split, if anything."""
    from prover_models.missing_vectors import describe

    lines = [best_line(summary)]
    for split, m in summary.missing.items():
        if m["dropped"] or m["negatives_missing"]:
            line = describe(m, split)
            lines.append(line[0].upper() + line[1:] + ".")
    return "\n\n".join(lines)


def sci(x: float) -> str:
    """3e-08 as the report writes it: 3.00e-8."""
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m[1] == "-" else "") + m[2], f"{x:.2e}")


def plot_curves(log: list[dict], path: Path) -> None:
    """Loss, gap, rank and learning rate against step (train and val) as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    steps = [r["step"] for r in log]
    for ax, key, title in zip(axes.flat[:3], ("loss", "gap", "rank"),
                              ("InfoNCE + depth loss", "energy gap (neg - pos)", "rank (positive lowest)")):
        ax.plot(steps, [r[f"train_{key}"] for r in log], marker="o", ms=3, label="train")
        val = [(r["step"], r[f"val_{key}"]) for r in log if f"val_{key}" in r]
        if val:
            ax.plot(*zip(*val), marker="s", ms=3, label="val")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[1, 1].plot(steps, [r["lr"] for r in log], color="gray")
    axes[1, 1].set_title("learning rate")
    axes[1, 1].grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("step")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
