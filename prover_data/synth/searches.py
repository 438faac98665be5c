"""Best-first search trees labelled as BurnQED labels them, and generate-negatives chains,
written column by column into a trajectory table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from prover_data.schema import TRAJECTORY
from prover_data.synth.lean_text import LeanText


@dataclass
class Columns:
    """Trajectory columns of one file, filled search by search."""

    theorem_name: list
    state_id: list
    state_pp: list
    tactic_applied: list
    parent_state_id: list
    label: list
    depth_from_root: list
    remaining_depth: list
    llm_log_prob: list
    ebm_score: list
    is_proof_complete: list
    timestamp_ms: list
    q_value: list
    visits: list

    @classmethod
    def empty(cls) -> "Columns":
        return cls(*([] for _ in range(14)))

    def table(self, schema: pa.Schema = TRAJECTORY) -> pa.Table:
        """The columns of ``schema``: all 14, or ``schema.TRAJECTORY_12`` (BurnQED's
        older files, without q_value and visits)."""
        return pa.table({f: getattr(self, f) for f in schema.names}, schema=schema)


@dataclass
class TheoremModel:
    """What every search of one theorem shares: its root, state pool and proof."""

    name: str
    statement: str
    salt: int
    pool_size: int
    proof_depth: int
    difficulty: float


class Searcher:
    """Builds best-first search trees and labels them as BurnQED does.

    ``proofs_per_search``: how many proofs a proved search holds, as BurnQED's search
    writes them since it replays every proof (commit b0d69b5): the first completed
    record's path is ``positive``, every later completed node and the path to it
    ``negative`` with remaining_depth -1 (fewer when a tree has too few leaves after its
    first proof). ``values`` draws the search's PUCT ``visits`` and ``q_value``. Both
    draw from ``extra``, a generator of their own, so the trees, states and labels of the
    main stream are the same with them or without.
    """

    CACHE_LIMIT = 400_000

    def __init__(self, rng: np.random.Generator, text: LeanText, *, extra: np.random.Generator | None = None,
                 proofs_per_search: int = 1):
        self.rng = rng
        self.text = text
        self.extra = extra if extra is not None else np.random.default_rng(0)
        self.proofs_per_search = proofs_per_search
        self._state_cache: dict[tuple[int, int], str] = {}
        self._root_cache: dict[int, str] = {}
        self.clock = 1_730_000_000_000

    def state(self, th: TheoremModel, k: int) -> str:
        if k == 0:
            s = self._root_cache.get(th.salt)
            if s is None:
                s = self._root_cache[th.salt] = self.text.root(th.statement)
            return s
        key = (th.salt, k)
        s = self._state_cache.get(key)
        if s is None:
            if len(self._state_cache) > self.CACHE_LIMIT:  # text is a pure function of key
                self._state_cache.clear()
            s = self._state_cache[key] = self.text.derived(th.statement, k, th.salt)
        return s

    def tree(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Parents and depths of an m-node best-first tree (node 0 the root)."""
        rng = self.rng
        parent = np.full(m, -1, dtype=np.int64)
        depth = np.zeros(m, dtype=np.int64)
        frontier = [0]
        n = 1
        while n < m and frontier:
            # Best-first: usually the most recent (deepest, best-scored) node, sometimes another.
            pick = len(frontier) - 1 if rng.random() < 0.55 else int(rng.integers(0, len(frontier)))
            p = frontier.pop(pick)
            kids = min(1 + int(rng.binomial(7, 0.3)), m - n)  # of 8 candidates, most fail
            parent[n:n + kids] = p
            depth[n:n + kids] = depth[p] + 1
            frontier.extend(range(n, n + kids))
            n += kids
        return parent[:n], depth[:n]

    def search(self, cols: Columns, th: TheoremModel, m: int, proved: bool, ebm: bool,
               label_unknown: bool, path_salt: int, sorry_budget: list[int]) -> tuple[int, bool]:
        """Append one search of ``th`` with about ``m`` nodes; return (rows, proved)."""
        rng = self.rng
        parent, depth = self.tree(max(2, m))
        n = len(parent)
        on_path = np.zeros(n, dtype=bool)
        remaining = np.full(n, -1, dtype=np.int64)
        complete = -1
        if proved:
            target = min(th.proof_depth, int(depth.max()))
            candidates = np.flatnonzero(depth == target)
            complete = int(candidates[int(rng.integers(0, len(candidates)))])
            node, steps = complete, 0
            while node != -1:
                on_path[node] = True
                remaining[node] = steps
                node = int(parent[node])
                steps += 1
        # Negative states come from the theorem's pool with a skew, so searches of one
        # theorem (in this file and others) meet the same states again.
        pool_draw = 1 + np.minimum(
            (rng.pareto(1.2, n) * th.pool_size * 0.15).astype(np.int64), th.pool_size - 1
        )
        later_proofs = self._later_proofs(parent, depth, on_path, complete)
        visits, q_value = self._values(parent, on_path | np.isin(np.arange(n), later_proofs))
        canonical = rng.random(n) < 0.03
        t0 = self.clock
        self.clock += int(rng.integers(10_000, 200_000))
        logp = -rng.gamma(1.5, 1.2, n)
        energy = rng.normal(1.5, 1.0, n) if ebm else np.zeros(n)
        for i in range(n):
            if i == 0:
                state, tactic = self.state(th, 0), ""
            elif i == complete:
                state, tactic = "", self.text.tactic()
            elif on_path[i]:
                state = self.state(th, 1_000_000 + path_salt * 100 + int(depth[i]))
                tactic = self.text.tactic()
            elif canonical[i]:  # a state that is on this theorem's proof elsewhere
                state = self.state(th, 1_000_000 + 1 + int(rng.integers(0, max(th.proof_depth, 30))))
                tactic = self.text.tactic()
            else:
                state, tactic = self.state(th, int(pool_draw[i])), self.text.tactic()
            if i in later_proofs:  # drawn as any other node first, so the main stream is the same
                state = ""
            if on_path[i] and i and sorry_budget[0] > 0 and i != complete and rng.random() < sorry_budget[1]:
                tactic = "sorry"
                sorry_budget[0] -= 1
            if label_unknown:
                label = "unknown"
            elif on_path[i]:
                label = "positive"
            else:
                label = "negative"
            cols.theorem_name.append(th.name)
            cols.state_id.append(i)
            cols.state_pp.append(state)
            cols.tactic_applied.append(tactic)
            cols.parent_state_id.append(None if i == 0 else int(parent[i]))
            cols.label.append(label)
            cols.depth_from_root.append(int(depth[i]))
            cols.remaining_depth.append(int(remaining[i]))
            cols.llm_log_prob.append(0.0 if i == 0 else float(logp[i]))
            cols.ebm_score.append(float(energy[i]))
            cols.is_proof_complete.append(i == complete or i in later_proofs)
            cols.timestamp_ms.append(t0 + i * 37)
            cols.q_value.append(float(q_value[i]))
            cols.visits.append(int(visits[i]))
        return n, proved

    def _later_proofs(self, parent: np.ndarray, depth: np.ndarray, on_path: np.ndarray, complete: int) -> set[int]:
        """Completed nodes after the first proof (record order): leaves off its path."""
        if complete < 0 or self.proofs_per_search <= 1:
            return set()
        n = len(parent)
        leaves = np.setdiff1d(np.arange(n), parent[parent >= 0])
        candidates = leaves[(leaves > complete) & (depth[leaves] > 0) & ~on_path[leaves]]
        k = min(self.proofs_per_search - 1, len(candidates))
        return set(self.extra.choice(candidates, k, replace=False).tolist()) if k else set()

    def _values(self, parent: np.ndarray, proved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """PUCT statistics as a search trie keeps them: a node's visits are those of its
        subtree (every visit below passed through it), its q_value the mean value of
        those visits, higher above a proof."""
        n = len(parent)
        visits = np.ones(n, dtype=np.int64)
        above_proof = proved.copy()
        for i in range(n - 1, 0, -1):  # children come after their parent
            visits[parent[i]] += visits[i]
            above_proof[parent[i]] |= above_proof[i]
        q = np.where(above_proof, self.extra.normal(0.7, 0.15, n), self.extra.normal(0.25, 0.15, n))
        return visits, np.clip(q, 0.0, 1.0).round(6)

    def negatives_chain(self, cols: Columns, th: TheoremModel, length: int, negatives: int,
                        repeat: bool) -> int:
        """generate-negatives: a ground-truth chain walked step by step, wrong tactics off it.

        As BurnQED's ``generate-negatives`` writes them, a positive record holds the state
        *before* a ground-truth step and the tactic applied *at* it (not the tactic that
        reached it, as search records do); a negative is the state a wrong tactic led to.
        Some chains are recorded twice (a re-run), which the SFT loader sees as duplicates.
        """
        rng = self.rng
        states = [self.state(th, 0)] + [self.state(th, 1_000_000 + j) for j in range(1, length)]
        tactics = [self.text.tactic() for _ in range(length)]
        ids = 0
        chain_ids = []
        for recording in range(2 if repeat else 1):
            prev = None if recording == 0 else chain_ids[0]
            for j in range(0 if recording == 0 else 1, length):
                self._row(cols, th.name, ids, states[j], tactics[j], prev, "positive", j, length - j, False)
                if recording == 0:
                    chain_ids.append(ids)
                prev = ids
                ids += 1
        for _ in range(negatives):
            at = int(rng.integers(0, length))
            state = self.state(th, 1 + int(rng.integers(0, th.pool_size)))
            self._row(cols, th.name, ids, state, self.text.tactic(), chain_ids[at], "negative", at + 1, -1, False)
            ids += 1
        return ids

    def _row(self, cols: Columns, name: str, sid: int, state: str, tactic: str, parent: int | None,
             label: str, depth: int, remaining: int, complete: bool) -> None:
        cols.theorem_name.append(name)
        cols.state_id.append(sid)
        cols.state_pp.append(state)
        cols.tactic_applied.append(tactic)
        cols.parent_state_id.append(parent)
        cols.label.append(label)
        cols.depth_from_root.append(depth)
        cols.remaining_depth.append(remaining)
        cols.llm_log_prob.append(0.0 if parent is None else float(-self.rng.gamma(1.5, 1.2)))
        cols.ebm_score.append(0.0)
        cols.is_proof_complete.append(complete)
        self.clock += 41
        cols.timestamp_ms.append(self.clock)
        cols.q_value.append(0.0)
        cols.visits.append(0)
