"""Warmup for a run whose length the command line chose: the rule every trainer shares.

A manifest's ``warmup_steps`` is sized for the run the manifest declares (the EBM's
1,000 steps of 20,000, 5%). A smoke run shortened on the command line
(``train-ebm --steps 300``, ``train-chargpt --epochs 1``, ``train-sft --max-steps
20``) would spend all of it warming up and end with the learning rate still rising:
it would never exercise the peak or the decay it is meant to check.

So when a command line sets the length of a run, warmup takes at most
``MAX_WARMUP_SHARE`` of it -- 10%, the high end of the usual 1-10% warmup share, so
a full-length run (whose manifest warmup is already under it) is never changed --
and the trainer logs one line naming the manifest's value and the value used. A
manifest that itself declares a warmup longer than its run is taken at its word:
the cap is about lengths the manifest did not choose.
"""

from __future__ import annotations

MAX_WARMUP_SHARE = 0.1


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
