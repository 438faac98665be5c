"""The learning rate of every trainer, and the warmup of a run whose length the command line chose.

One curve serves all four trainers: a linear warmup to ``peak`` over ``warmup_steps``,
then a decay to ``final`` at ``total_steps`` (cosine, linear, or none). Two
conventions for the warmup's first step exist and each trainer keeps its own, so a
run's curve is the one its reference run had:

* ``warmup_from_zero``: step 0's rate is 0 and step ``s`` takes ``s / warmup`` of the
  peak, as transformers' ``get_*_schedule_with_warmup`` (train-sft, and train-dpo
  through TRL);
* otherwise step ``s`` takes ``(s + 1) / warmup``, so step 0 already learns, as
  BurnQED's EBM trainer does: the report's LR column reads 3.00e-8 at step 0, 3e-5 *
  1 / 1000 (train-ebm, train-chargpt).

The rate is a pure function of the step, so a resumed run needs no scheduler state.

A manifest's ``warmup_steps`` is sized for the run the manifest declares (the EBM's
1,000 steps of 20,000, 5%). A smoke run shortened on the command line
(``train-ebm --steps 300``, ``train-chargpt --epochs 1``, ``train-sft --max-steps
20``) would spend all of it warming up and end with the learning rate still rising:
it would never exercise the peak or the decay it is meant to check.

So when a command line sets the length of a run, warmup takes at most
``MAX_WARMUP_SHARE`` of it -- 10%, the high end of the usual 1-10% warmup share, so
a full-length run (whose manifest warmup is already under it) is never changed --
and the trainer logs one line naming the manifest's value and the value used
(``fit_warmup``, which every trainer calls on its settings). A manifest that itself
declares a warmup longer than its run is taken at its word: the cap is about lengths
the manifest did not choose.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Literal, TypeVar

MAX_WARMUP_SHARE = 0.1

Settings = TypeVar("Settings")


def learning_rate(step: int, *, peak: float, warmup_steps: int, total_steps: int,
                  decay: Literal["cosine", "linear", "constant"] = "cosine", final: float = 0.0,
                  warmup_from_zero: bool = False) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warmup, then ``decay`` to ``final``."""
    if step < warmup_steps:
        return peak * (step if warmup_from_zero else step + 1) / warmup_steps
    if decay == "constant":
        return peak
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    remaining = 1.0 - progress if decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
    return final + remaining * (peak - final)


def cap_warmup(warmup_steps: int, total_steps: int, *, key: str, override: str) -> tuple[int, str | None]:
    """``(warmup steps to use, log line or None)`` for a run of ``total_steps`` set by ``override``.

    ``key`` is the manifest key the warmup comes from (``train.ebm.warmup_steps``),
    ``override`` the command-line option that set the length (``--steps 300``).
    """
    cap = int(MAX_WARMUP_SHARE * total_steps)
    if warmup_steps <= cap:
        return warmup_steps, None
    return cap, (f"{key} = {warmup_steps:,} is more than {MAX_WARMUP_SHARE:.0%} of this {total_steps:,}-step run "
                 f"({override}); using warmup_steps = {cap:,}")


def fit_warmup(cfg: Settings, total_steps: int, *, section: str, override: str | None,
               say: Callable[[str], None]) -> Settings:
    """``cfg`` (a ``[train.*]`` table) with its warmup capped when ``override``, the
    command-line option that set the run's length, is not None; ``say`` gets the line."""
    if override is None:
        return cfg
    warmup, note = cap_warmup(cfg.warmup_steps, total_steps, key=f"train.{section}.warmup_steps", override=override)
    if note is None:
        return cfg
    say(note)
    return dataclasses.replace(cfg, warmup_steps=warmup)
