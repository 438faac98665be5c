"""Hand-built inputs for the eval tests: valid trajectory parquets and tiny manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.schema import TRAJECTORY


def search_rows(theorem: str, proof_depth: int | None, nodes: int, *, extra_proofs: tuple[int, ...] = ()) -> list[dict]:
    """One search tree: a chain to a proof at ``proof_depth`` (or a dead chain), padded with
    dead-end children of the root up to ``nodes`` rows; ``extra_proofs`` adds completing
    leaves at those depths, hung off the chain."""
    rows = []

    def node(sid: int, parent: int | None, depth: int, label: str, remaining: int, done: bool) -> None:
        rows.append({
            "theorem_name": theorem, "state_id": sid, "state_pp": "" if done else f"{theorem} state {sid}",
            "tactic_applied": "" if parent is None else f"tac{sid}", "parent_state_id": parent, "label": label,
            "depth_from_root": depth, "remaining_depth": remaining, "llm_log_prob": -0.5, "ebm_score": 0.0,
            "is_proof_complete": done, "timestamp_ms": 1000 + sid, "q_value": 0.0, "visits": 0,
        })

    proved = proof_depth is not None
    chain = proof_depth if proved else 2
    node(0, None, 0, "positive" if proved else "negative", chain if proved else -1, False)
    for d in range(1, chain + 1):
        done = proved and d == chain
        node(d, d - 1, d, "positive" if proved else "negative", chain - d if proved else -1, done)
    sid = chain + 1
    for depth in extra_proofs:
        node(sid, depth - 1, depth, "negative", -1, True)
        sid += 1
    while len(rows) < nodes:
        node(sid, 0, 1, "negative", -1, False)
        sid += 1
    return rows


def write_trajectory(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = {f.name: pa.array([r[f.name] for r in rows], f.type) for f in TRAJECTORY}
    pq.write_table(pa.table(cols, schema=TRAJECTORY), path)
    return path


def write_run(path: Path, plan: dict[str, tuple[int | None, int]]) -> Path:
    """An eval run: theorem -> (proof depth or None, nodes)."""
    rows = []
    for theorem, (depth, nodes) in plan.items():
        rows += search_rows(theorem, depth, nodes)
    return write_trajectory(path, rows)


def write_list(path: Path, theorems: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"theorems": [{"name": n, "statement": s} for n, s in theorems]},
                               ensure_ascii=False), encoding="utf-8")
    return path


def write_leandojo(path: Path, theorems: list[str]) -> Path:
    doc = [{"full_name": t, "file_path": "Mathlib/Test.lean", "traced_tactics": [
        {"tactic": "simp", "annotated_tactic": ["simp", []], "state_before": f"⊢ {t}", "state_after": "no goals"}]}
        for t in theorems]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def write_manifest(root: Path, *, held_out: dict[str, str], eval_sets: str, audit: tuple[str, ...] = (),
                   base_pairs: bool = False) -> Path:
    """A manifest over ``root`` (trajectories/*.parquet, theorem_index.json, given lists)."""
    lines = ['name = "evaltest"', f'data_root = "{root.as_posix()}"', "", "[sources]",
             'trajectories = ["trajectories/*.parquet"]', 'theorem_index = "theorem_index.json"']
    if base_pairs:
        lines += ["", "[sources.base_pairs]", 'path = "leandojo.json"']
    lines += ["", "[sources.held_out]"] + [f'{k} = "{v}"' for k, v in held_out.items()]
    lines += ["", "[eval]", f"audit = {json.dumps(list(audit))}", "", eval_sets]
    path = root / "evaltest.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
