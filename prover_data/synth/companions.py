"""The files beside the trajectories: theorem index and held-out list, two eval search
runs, and LeanDojo Benchmark 4 base tactic pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from prover_data.schema import TRAJECTORY
from prover_data.synth.lean_text import LeanText
from prover_data.synth.profiles import (BASE_TACTICS, EVAL_RAN, EVAL_THEOREMS, PARQUET_OPTIONS, TRAIN_EVAL,
                                        WHITESPACE_TWINS, scaled)
from prover_data.synth.searches import Columns, Searcher, TheoremModel
from prover_data.synth.theorems import TheoremPool, whitespace_variant


def _dump_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_lists(rng, tmp: Path, index: TheoremPool, traj_names: set[str],
                 scale: float) -> tuple[list[str], list[str]]:
    """theorem_index.json (with whitespace twins) and held_out/train_eval.json.

    Returns the train_eval names and the eval-run names: both are held out of every
    training input, base tactic pairs included.
    """
    entries = list(zip(index.names, index.statements))
    names = set(index.names)
    twins = []
    n_twins = scaled(WHITESPACE_TWINS, scale, 5)
    traj_positions = [i for i, n in enumerate(index.names) if n in traj_names]
    picks = [traj_positions[0]] + list(rng.choice(len(entries), n_twins - 1, replace=False))
    for i in picks:
        name, statement = entries[int(i)]
        twin = f"{name}'"
        if twin in names:
            continue
        names.add(twin)
        twins.append((twin, whitespace_variant(statement, rng)))
    full = entries + twins
    order = rng.permutation(len(full))
    _dump_json(tmp / "theorem_index.json",
               {"theorems": [{"name": full[i][0], "statement": full[i][1]} for i in order]})

    twin_bases = {t[0][:-1] for t in twins}
    clean = [i for i, n in enumerate(index.names) if n not in traj_names and n not in twin_bases]
    clean = [clean[i] for i in rng.permutation(len(clean))]
    n_train_eval = scaled(TRAIN_EVAL, scale, 10)
    train_eval = clean[:n_train_eval]
    _dump_json(tmp / "held_out" / "train_eval.json",
               {"theorems": [{"name": index.names[i], "statement": index.statements[i]} for i in train_eval]})
    return ([index.names[i] for i in train_eval],
            [index.names[i] for i in clean[n_train_eval:n_train_eval + EVAL_THEOREMS]])


def write_eval_runs(rng, searcher: Searcher, tmp: Path, index: TheoremPool, eval_names: list[str]) -> None:
    """LLM-only and LLM+EBM runs over the same theorems: 83 ran, 39 vs 49 proved, no regressions."""
    statements = dict(zip(index.names, index.statements))
    ran = eval_names[:EVAL_RAN]
    shared_depths = [1] * 25 + [2] * 7 + [3] * 4 + [4] * 2 + [6]
    exclusive = [(8, 270), (8, 181), (1, 40), (1, 35), (2, 60), (2, 75), (3, 90), (1, 30), (2, 55), (4, 120)]
    plan = {}  # theorem -> (depth, nodes) per config
    for k, name in enumerate(ran):
        if k < len(shared_depths):
            d = shared_depths[k]
            plan[name] = {"llm_only": (d, 20 + 15 * d), "ebm90": (d, 18 + 12 * d)}
        elif k < len(shared_depths) + len(exclusive):
            d, nodes = exclusive[k - len(shared_depths)]
            plan[name] = {"llm_only": (None, 300), "ebm90": (d, nodes)}
        else:
            plan[name] = {"llm_only": (None, 300), "ebm90": (None, 300)}
    (tmp / "eval").mkdir()
    for config, ebm in (("llm_only", False), ("ebm90", True)):
        cols = Columns.empty()
        for name in ran:
            depth, nodes = plan[name][config]
            th = TheoremModel(name, statements[name], salt=_stable_salt(name), pool_size=60,
                              proof_depth=depth or 1, difficulty=0.0)
            while True:  # a proof of exactly the planned depth needs a deep-enough tree
                mark = len(cols.state_id)
                searcher.search(cols, th, nodes, depth is not None, ebm, False, 0, [0, 0.0])
                got = _last_proof_depth(cols, mark)
                if depth is None or got == depth:
                    break
                for f in TRAJECTORY.names:
                    del getattr(cols, f)[mark:]
        pq.write_table(cols.table(), tmp / "eval" / f"eval_clean_100_{config}.parquet", **PARQUET_OPTIONS)


def _last_proof_depth(cols: Columns, start: int) -> int | None:
    for i in range(start, len(cols.state_id)):
        if cols.is_proof_complete[i]:
            return cols.depth_from_root[i]
    return None


def _stable_salt(name: str) -> int:
    return int.from_bytes(name.encode("utf-8")[:7].ljust(7, b"\0"), "little") + len(name)


def write_leandojo(rng, tmp: Path, index: TheoremPool, traj_names: set[str], held_out: set[str],
                    scale: float) -> int:
    """LeanDojo Benchmark 4 shape: chained traced tactics of Mathlib-style theorems.

    A few trajectory theorems recur here (as Mathlib theorems recur in searches); held-out
    and eval theorems never do.
    """
    want = scaled(BASE_TACTICS, scale, 50)
    text = LeanText(rng)
    candidates = [i for i, n in enumerate(index.names) if n not in traj_names and n not in held_out]
    overlap = [i for i, n in enumerate(index.names) if n in traj_names]
    order = [candidates[i] for i in rng.permutation(len(candidates))]
    extra = [overlap[i] for i in rng.permutation(len(overlap))[: max(1, len(overlap) // 100)]]
    theorems = []
    total = 0
    commit = "29dcec074de168ac2bf835a77ef68bbe069194c5"
    for k, i in enumerate(extra + order):
        if total >= want:
            break
        name, statement = index.names[i], index.statements[i]
        steps = int(min(12, 1 + rng.geometric(0.25)))
        salt = int(rng.integers(1, 1 << 62))
        states = [text.root(statement)] + [text.derived(statement, 3_000_000 + j, salt) for j in range(1, steps)]
        states.append("no goals")
        tactics = [text.tactic() for _ in range(steps)]
        line = int(rng.integers(10, 3000))
        ns = name.split(".")[0] if "." in name else "Workbook"
        theorems.append({
            "url": "https://github.com/leanprover-community/mathlib4",
            "commit": commit,
            "file_path": f"Mathlib/{ns}/Basic.lean",
            "full_name": name,
            "start": [line, 1],
            "end": [line + steps + 1, 20],
            "traced_tactics": [
                {"tactic": t, "annotated_tactic": [t, []], "state_before": states[j], "state_after": states[j + 1]}
                for j, t in enumerate(tactics)
            ],
        })
        total += steps
    _dump_json(tmp / "leandojo" / "benchmark4.json", theorems)
    return total
