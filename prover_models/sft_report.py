"""The SFT run's tables, as the iteration report shows them, from the trainer's log.

``sft.train`` appends records to ``log.jsonl`` (``kind``: start, train, eval, resume);
everything here is a pure function of that list, so a report can be rebuilt from any
run's log, including the part of a run before a resume.

Epoch buckets are whole passes, ``floor(epoch)``: the report's "Epoch 2" row holds the
records at epochs 2.00-2.99.
"""

from __future__ import annotations

import math
from typing import IO, Any

PROGRESS_ROWS = 12  # the report samples its training-progress table down to ~a dozen rows


def tables(history: list[dict]) -> dict[str, Any]:
    """The report's figures: progress rows, loss by epoch, best and final eval losses."""
    train = [r for r in history if r["kind"] == "train"]
    evals = [r for r in history if r["kind"] == "eval" and r["split"] == "subset"]
    finals = {r["split"]: r for r in history if r["kind"] == "eval" and r["split"] != "subset"}
    resumes = [r for r in history if r["kind"] == "resume"]
    best = min(evals, key=lambda r: (r["loss"], r["step"])) if evals else None
    return {
        "progress": [{k: r[k] for k in ("step", "epoch", "loss", "grad_norm", "lr")} for r in _spread(train)],
        "train_loss_by_epoch": [{"epoch": e, "loss": _mean(v)} for e, v in _by_epoch(train).items()],
        "eval_loss_by_epoch": [{"epoch": e, "avg": _mean(v), "min": min(v), "evals": len(v)}
                               for e, v in _by_epoch(evals).items()],
        # The mean of every logged step loss of the run, resumed parts included. (The
        # report's "0.1506, smoothed over full run" matches transformers' train_loss after
        # a resume: the resumed half's loss sum divided by all 12,000 steps, ~0.30 / 2.)
        "mean_train_loss": _mean([r["loss"] for r in train]) if train else None,
        "last_train_loss": train[-1]["loss"] if train else None,
        "best_eval": {k: best[k] for k in ("loss", "step", "epoch")} if best else None,
        "final_eval_loss": finals["full"]["loss"] if "full" in finals else None,
        "final_trajectory_eval_loss": finals["trajectory"]["loss"] if "trajectory" in finals else None,
        "resumes": [{k: r[k] for k in ("step", "epoch", "from")} for r in resumes],
    }


def _spread(rows: list[dict], n: int = PROGRESS_ROWS) -> list[dict]:
    if len(rows) <= n:
        return rows
    return [rows[round(i * (len(rows) - 1) / (n - 1))] for i in range(n)]


def _by_epoch(rows: list[dict]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for r in rows:
        out.setdefault(math.floor(r["epoch"]), []).append(r["loss"])
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def markdown(s: dict[str, Any]) -> str:
    """The run as the report's "LLM Fine-tuning (LoRA)" section."""
    lines = [
        "## LLM Fine-tuning (LoRA)",
        "",
        f"**Base model**: `{s['model']}`  ",
        f"**Adapter**: `{s['adapter']}`  ",
        f"**Trainable params**: {s['trainable']}  ",
        f"**Steps**: {s['steps']:,} (epoch {s['epochs']:.2f}) on {s['device']} ({s['dtype']})",
    ]
    for r in s["resumes"]:
        lines[-1] += "  "
        lines.append(f"**Resumed** from `{r['from']}` at step {r['step']:,} (epoch {r['epoch']:.2f})")
    lines += [
        "",
        f"Training pairs: {s['train_pairs']:,}; val pairs: {s['val_pairs']:,} "
        f"({s['trajectory_val_pairs']:,} from trajectories).",
    ]
    lines += _data_lines(s)
    if s["samples_per_s"]:
        lines.append(f"Throughput: {s['samples_per_s']:.2f} samples/s, {s['steps_per_s']:.3f} steps/s "
                     f"({1 / s['steps_per_s']:.2f} s/step), {s['tokens_per_s']:,.0f} tokens/s; "
                     f"runtime {_duration(s['runtime_s'])} (this process).")
    lines += ["", "### Training Progress", "",
              "| Step | Epoch | Train Loss | Grad Norm | Learning Rate |",
              "|------|-------|------------|-----------|---------------|"]
    lines += [f"| {r['step']:,} | {r['epoch']:.2f} | {r['loss']:.4f} | {r['grad_norm']:.3f} | {r['lr']:.2e} |"
              for r in s["progress"]]
    if s["train_loss_by_epoch"]:
        lines += ["", "**Average train loss by epoch**: " +
                  ", ".join(f"Epoch {r['epoch']}: {r['loss']:.4f}" for r in s["train_loss_by_epoch"])]
    if s["eval_loss_by_epoch"]:
        lines += ["", f"**Eval loss** ({s['eval_subset']:,} examples, evaluated every {s['eval_every']:,} steps):", "",
                  "| Epoch | Avg Eval Loss | Min Eval Loss |",
                  "|-------|---------------|---------------|"]
        lines += [f"| {r['epoch']} | {r['avg']:.4f} | {r['min']:.4f} |" for r in s["eval_loss_by_epoch"]]
    lines.append("")
    if s["best_eval"]:
        b = s["best_eval"]
        lines.append(f"- **Best eval loss**: {b['loss']:.4f} at epoch {b['epoch']:.2f} (step {b['step']:,})")
    if s["final_eval_loss"] is not None:
        lines.append(f"- **Final full eval loss**: {s['final_eval_loss']:.4f} "
                     f"(full val set, {s['val_pairs']:,} examples)")
    if s["final_trajectory_eval_loss"] is not None:
        lines.append(f"- **Final trajectory eval loss**: {s['final_trajectory_eval_loss']:.4f} "
                     f"(trajectory val set only, {s['trajectory_val_pairs']:,} examples)")
    if s["mean_train_loss"] is not None:
        lines.append(f"- **Mean train loss**: {s['mean_train_loss']:.4f} (every logged step of the run)")
    return "\n".join(lines) + "\n"


def _data_lines(s: dict[str, Any]) -> list[str]:
    """What the forward passes computed: the batching, its token efficiency, the pairs cut short."""
    processes = f" on {s['processes']} processes" if s["processes"] > 1 else ""
    lines = [f"Batching: {s['batching']}{processes}; token efficiency {s['token_efficiency']:.3f} "
             f"({s['real_tokens']:,} real tokens of {s['computed_tokens']:,} computed)."]
    if s["truncated_train_pairs"] or s["truncated_val_pairs"]:
        share = s["truncated_train_pairs"] / s["train_pairs"]
        lines.append(f"Cut at max_seq_len {s['max_seq_len']:,}: {s['truncated_train_pairs']:,} train pairs "
                     f"({share:.2%}; {s['train_pairs_without_tactic']:,} lost every tactic token), "
                     f"{s['truncated_val_pairs']:,} val pairs.")
    return lines


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def plot(history: list[dict], out: IO[bytes]) -> None:
    """Train and eval loss against step, as a PNG written to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in history if r["kind"] == "train"]
    evals = [r for r in history if r["kind"] == "eval" and r["split"] == "subset"]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss", lw=1)
    if evals:
        ax.plot([r["step"] for r in evals], [r["loss"] for r in evals], "o-", ms=3,
                label=f"eval loss ({evals[0]['examples']:,} examples)")
    for r in history:
        if r["kind"] == "eval" and r["split"] in ("full", "trajectory"):
            ax.scatter([r["step"]], [r["loss"]], marker="*", s=80, zorder=3,
                       label=f"final {r['split']} eval ({r['examples']:,})")
        if r["kind"] == "resume":
            ax.axvline(r["step"], color="grey", ls=":", lw=1, label=f"resumed at step {r['step']:,}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per tactic token")
    ax.set_title("LoRA SFT")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, format="png", metadata={"Software": None})
    plt.close(fig)
