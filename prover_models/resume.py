"""Which checkpoint a run continues from: ``--resume`` read the same way by every trainer.

* none (no ``--resume``): a fresh run. A run directory that already holds an earlier
  run's checkpoints is refused, so two runs never mix in one directory's checkpoints
  and log (``train-ebm --resume none`` is the one exception: it says "start afresh",
  over what is there).
* ``auto``: the newest checkpoint of the directory, or a fresh run when it has none
  yet, so the same command starts a run and continues it after an interruption.
* a path: that checkpoint, once the trainer's ``check`` accepts it.

Each trainer knows what its checkpoints are (``checkpoint-STEP/`` directories, a
``last.pt`` file) and passes them in, oldest first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from prover_data.errors import InputError


def resume_point(resume: str | Path | None, out_dir: Path, saved: list[Path], *,
                 check: Callable[[Path], None] | None = None, refuse_fresh: bool = True) -> Path | None:
    """The checkpoint to continue from, or None for a fresh run (see the module docstring).

    ``saved``: the checkpoints in ``out_dir``, oldest first; ``check(path)`` raises
    ``InputError`` when an explicit ``path`` is not a checkpoint of this trainer.
    """
    if resume is None:
        if refuse_fresh and saved:
            refuse_earlier_run(out_dir, saved[-1].name)
        return None
    if str(resume) == "auto":
        return saved[-1] if saved else None
    path = Path(resume)
    if check is not None:
        check(path)
    return path


def refuse_earlier_run(out_dir: Path, newest: str) -> None:
    """Raise: a fresh run may not start in a directory that holds one (its newest record ``newest``)."""
    raise InputError.one(str(out_dir), f"already holds a run (an earlier run's records, newest {newest}); "
                                       "pass --resume auto to continue it, or choose another --out")
