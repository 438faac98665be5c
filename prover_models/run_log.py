"""A run's records: one place through which every trainer logs.

Each record (a step's training figures, an evaluation, a start or resume marker) is
kept in memory (the tables, the checkpoints), appended as one JSON line to the run's
log file (``metrics.jsonl``; ``log.jsonl`` for train-sft), and with ``--report-to
tensorboard`` written as TensorBoard scalars to ``OUT/tensorboard/`` (through
``torch.utils.tensorboard``), so ``tensorboard --logdir runs/`` watches every run.

A scalar's tag is its record's ``kind`` and ``split`` (where it has them) and its key:
``train/loss``, ``eval/subset/loss``, ``epoch/val_loss``; its step is the record's
``step``. Records without a step (a run's start) stay out of TensorBoard.

Opening rewrites the log file from ``history``: a resumed run's history comes from its
checkpoint, so records a killed run wrote after that checkpoint disappear. TensorBoard
files are only ever appended to, so the writer opens with ``purge_step`` one past the
history's last step, and TensorBoard drops the killed run's later points the same way.
With ``path`` None (a rank other than 0) the records stay in memory only.
"""

from __future__ import annotations

import json
from pathlib import Path

from prover_data.atomic import atomic_write_text
from prover_data.errors import InputError

REPORT_TO = ("none", "tensorboard")  # where records go beside the log file (--report-to)
TENSORBOARD_DIR = "tensorboard"
_NOT_SCALARS = ("step", "kind", "split")


class RunLog:
    """The run's records, in memory, in the log file and (``report_to="tensorboard"``) in TensorBoard."""

    def __init__(self, path: Path | None, history: list[dict], *, report_to: str = "none"):
        self.history = history
        self.file = None
        self.writer = None
        if path is None:
            return
        atomic_write_text(path, "".join(_line(r) for r in history))
        self.file = open(path, "a", encoding="utf-8")
        if report_to == "tensorboard":
            steps = [r["step"] for r in history if isinstance(r.get("step"), int)]
            self.writer = _tensorboard(path.parent / TENSORBOARD_DIR, purge_step=max(steps, default=-1) + 1)

    def record(self, **entry) -> None:
        self.history.append(entry)
        if self.file is not None:
            self.file.write(_line(entry))
            self.file.flush()
        if self.writer is not None and isinstance(entry.get("step"), int):
            prefix = "".join(f"{entry[k]}/" for k in ("kind", "split") if isinstance(entry.get(k), str))
            for key, value in entry.items():
                if key not in _NOT_SCALARS and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.writer.add_scalar(prefix + key, value, entry["step"])
            self.writer.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> "RunLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _line(record: dict) -> str:
    return json.dumps(record, sort_keys=True) + "\n"


def _tensorboard(log_dir: Path, purge_step: int):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch's writer needs the tensorboard package
        raise InputError.one("--report-to", "tensorboard needs the tensorboard package: "
                                            "pip install 'prover-data[train]' (or pip install tensorboard)") from None
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)
