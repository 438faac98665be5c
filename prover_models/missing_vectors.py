"""Contrastive samples whose states have no vector: refuse them, or drop and refill.

A store imported from BurnQED's ``embeddings.parquet`` with ``--drop-invalid`` lacks
the 10-18% of states whose vectors came out zero. Re-encoding them with a 7B model
before any EBM run is what ``missing = "refuse"`` (the default) asks. Under ``"skip"``
training goes on with what exists, and says how much it left out:

* a sample whose positive has no vector is dropped (nothing to rank);
* a negative without a vector is redrawn from its tier's pool in the build's
  ``contrastive_pools.parquet`` -- hard and medium from the sample's theorem, easy from
  the split (a state of another theorem preferred, three tries, as the sampler does),
  embedding from the positive's neighbours -- among the pool's states that have a
  vector, by ``identity.draw(seed:refill:sample_id:position)`` over the pool sorted by
  hash, so the refill depends on content and seed only;
* a sample left with fewer than K negatives (an empty pool, or no pool file) is dropped.

Under both settings the empty state never needs a vector: a sample that would need
one for it is handled as under ``"skip"`` (the default sampler never draws it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from prover_data.embeddings.store.keys import first_occurrences, key_matrix, missing_problem, sort_order
from prover_data.identity import draw, state_hash

POLICIES = ("refuse", "skip")
_EMPTY = np.frombuffer(state_hash(""), np.uint8)
_TRIES = 3  # easy refills, as the sampler's easy tier tries for another theorem


@dataclass
class MissingReport:
    """What one file of samples lost to missing vectors (all zero when nothing was missing)."""

    policy: str
    samples: int  # samples in the file
    kept: int
    dropped_no_positive: int  # samples whose positive has no vector
    dropped_short: int  # samples left with fewer than K negatives
    negatives_missing: int  # negatives (sample slots) whose state has no vector
    negatives_refilled: int

    @property
    def dropped(self) -> int:
        return self.dropped_no_positive + self.dropped_short

    def as_dict(self) -> dict:
        return {**asdict(self), "dropped": self.dropped}

    def line(self, what: str) -> str:
        return describe(self.as_dict(), what)


def describe(m: dict, what: str) -> str:
    """One line for a person: ``MissingReport.as_dict()`` of ``what`` (a split, a file)."""
    return (f"missing vectors ({m['policy']}), {what}: {m['kept']:,} of {m['samples']:,} samples kept; "
            f"{m['dropped_no_positive']:,} dropped (positive without a vector), {m['dropped_short']:,} dropped "
            f"(fewer than K negatives left); {m['negatives_missing']:,} negatives without a vector, "
            f"{m['negatives_refilled']:,} refilled from their tier's pool")


@dataclass(frozen=True)
class Resolved:
    pos_rows: np.ndarray  # [kept] rows of the embedding matrix
    neg_rows: np.ndarray  # [kept, K]
    kept: np.ndarray  # indices of the kept samples in the file
    report: MissingReport


def resolve(name: str, table: pa.Table, embeddings, k: int, *, policy: str = "refuse",
            pools: pa.Table | None = None, seed: int = 0) -> Resolved:
    """Matrix rows for every sample of ``table`` (``schema.CONTRASTIVE``), by ``policy``.

    ``pools``: this split's rows of ``contrastive_pools.parquet`` (None: no refill).
    """
    if policy not in POLICIES:
        raise ValueError(f"missing must be one of {POLICIES}, got {policy!r}")
    pos_keys = key_matrix(table.column("pos_state_hash"))
    neg_keys = key_matrix(table.column("neg_state_hashes").combine_chunks().flatten())
    pos_rows = embeddings.lookup(pos_keys)
    neg_rows = embeddings.lookup(neg_keys).reshape(-1, k)
    if policy == "refuse":
        _refuse(name, pos_keys, neg_keys, pos_rows, neg_rows.reshape(-1), len(pos_keys), k)
    report = MissingReport(policy, len(pos_keys), 0, int((pos_rows < 0).sum()), 0, int((neg_rows < 0).sum()), 0)
    ok = pos_rows >= 0
    holes = np.argwhere((neg_rows < 0) & ok[:, None])
    if len(holes):
        refill = _Refill(embeddings, pools, seed)
        ids = table.column("sample_id").to_numpy()
        theorems = table.column("theorem_name").to_pylist()
        tiers = table.column("neg_tiers").to_pylist()
        for i, j in holes.tolist():
            if not ok[i]:
                continue
            row = refill.row(tiers[i][j], theorems[i], pos_keys[i], f"{seed}:refill:{ids[i]}:{j}")
            if row < 0:
                ok[i] = False
                report.dropped_short += 1
            else:
                neg_rows[i, j] = row
                report.negatives_refilled += 1
    kept = np.flatnonzero(ok)
    report.kept = len(kept)
    return Resolved(pos_rows[kept], neg_rows[kept], kept, report)


def _refuse(name: str, pos_keys, neg_keys, pos_rows, neg_rows, samples: int, k: int) -> None:
    """An ``InputError`` when a state other than the empty one has no vector."""
    refs = np.concatenate([pos_keys, neg_keys])
    absent = np.concatenate([pos_rows, neg_rows]) < 0
    absent &= ~np.all(refs == _EMPTY, axis=1)
    if not absent.any():
        return
    owner = np.concatenate([np.arange(samples), np.repeat(np.arange(samples), k)])
    touched = int(np.unique(owner[absent]).size)
    distinct = first_occurrences(refs)
    raise missing_problem(name, refs[distinct], absent[distinct],
                          f"they appear in {touched:,} of {samples:,} samples; encode them (prover-data embed NAME) "
                          "and export again, or pass --missing skip to drop and refill what needs them",
                          of="states referenced by these samples")


class _Refill:
    """The build's tier pools, restricted to states with a vector, sorted by hash."""

    def __init__(self, embeddings, pools: pa.Table | None, seed: int):
        self.embeddings, self.seed = embeddings, seed
        self.by_theorem: dict[tuple[str, str], np.ndarray] = {}
        self.by_positive: dict[bytes, np.ndarray] = {}
        self.theorems_of: dict[bytes, set[str]] = defaultdict(set)
        self.split_states = np.zeros((0, 16), np.uint8)
        if pools is None or pools.num_rows == 0:
            return
        keys = key_matrix(pools.column("state_hash"))
        rows = embeddings.lookup(keys)
        tier = pools.column("tier").to_pylist()
        theorem = pools.column("theorem_name").to_pylist()
        positive = pools.column("pos_state_hash").to_pylist()
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i in np.flatnonzero(rows >= 0).tolist():
            if tier[i] == "embedding":
                groups[("embedding", positive[i])].append(i)
            else:
                groups[(tier[i], theorem[i])].append(i)
                self.theorems_of[keys[i].tobytes()].add(theorem[i])
        for (t, owner), idx in groups.items():
            target = self.by_positive if t == "embedding" else self.by_theorem
            target[owner if t == "embedding" else (t, owner)] = _sorted_distinct(keys[idx])
        tree = [i for i in range(len(tier)) if tier[i] != "embedding" and rows[i] >= 0]
        self.split_states = _sorted_distinct(keys[tree]) if tree else self.split_states

    def row(self, tier: str, theorem: str, positive: np.ndarray, slot: str) -> int:
        """The embedding row of a redrawn negative, or -1 when its pool has nothing to offer."""
        if tier == "easy":
            pool = self.split_states
            if not len(pool):
                return -1
            for t in range(_TRIES):
                pick = pool[draw(f"{slot}:{t}") % len(pool)]
                if self.theorems_of[pick.tobytes()] - {theorem}:
                    break
        else:
            pool = (self.by_positive.get(positive.tobytes()) if tier == "embedding"
                    else self.by_theorem.get((tier, theorem)))
            if pool is None or not len(pool):
                return -1
            pick = pool[draw(slot) % len(pool)]
        return int(self.embeddings.lookup(pick[None])[0])


def _sorted_distinct(keys: np.ndarray) -> np.ndarray:
    keys = keys[first_occurrences(keys)]
    return keys[sort_order(keys)]
