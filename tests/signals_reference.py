"""Preference pairs and value targets computed in plain Python from their definitions
(the issue's words, as ``sql/70_preferences.sql`` and ``sql/75_value_targets.sql``
state them), over the labelled records of ``views_reference._records``: loops, dicts
and sets, no DuckDB."""

from __future__ import annotations

from collections import defaultdict

from prover_data.identity import state_hash
from prover_data.manifest import Manifest
from prover_data.prompts import format_prompt
from tests.views_reference import _records, _split, draw


def _actions(rows: list[dict], own: bool, positive_states: set[str]) -> dict[tuple, list[dict]]:
    """Each record as a tactic applied at a node, grouped by that node (search, theorem, id)."""
    has_children = {(r["search"], r["theorem_name"], r["parent_state_id"]) for r in rows
                    if r["parent_state_id"] is not None}
    at: dict[tuple, list[dict]] = defaultdict(list)
    for row_number, r in enumerate(rows):
        tactic = r["tactic_applied"].strip()
        if not tactic or "sorry" in tactic:
            continue
        chain_step = own and r["label"] == "positive"
        if chain_step:
            node = (r["search"], r["theorem_name"], r["state_id"])
        elif r["parent_state_id"] is not None:
            node = (r["search"], r["theorem_name"], r["parent_state_id"])
        else:
            continue
        at[node].append(dict(
            row=row_number, tactic=tactic, theorem=r["theorem_name"],
            chosen=r["label"] == "positive",
            rejected=(r["label"] == "negative" and r["file_label"] == "negative" and not r["provable"]
                      and r["state_pp"] not in positive_states),
            expanded=(r["search"], r["theorem_name"], r["state_id"]) in has_children,
            distance=r["remaining_depth"] - 1 if chain_step else r["remaining_depth"]))
    return at


def preferences(manifest: Manifest) -> dict[str, list[tuple]]:
    """``out_preferences_train`` / ``_val`` rows."""
    p = manifest.preferences
    files = _records(manifest)
    positive_states = {r["state_pp"] for _, rows in files for r in rows if r["label"] == "positive"}
    firsts: dict[tuple, tuple] = {}  # (state, chosen, rejected) -> (order key, row values)
    for order, (source, rows) in enumerate(files):
        own = source in manifest.filters.own_state_sources
        nodes = {(r["search"], r["theorem_name"], r["state_id"]): r for r in rows}
        for node, actions in _actions(rows, own, positive_states).items():
            if node not in nodes or not nodes[node]["state_pp"].strip():
                continue
            state = nodes[node]["state_pp"].strip()
            for c in actions:
                for r in actions:
                    if not (c["chosen"] and r["rejected"] and c["tactic"] != r["tactic"]):
                        continue
                    if p.rejected == "expanded" and not r["expanded"]:
                        continue
                    key = (state, c["tactic"], r["tactic"])
                    rank = (order, c["row"], r["row"])
                    if key not in firsts or rank < firsts[key][0]:
                        firsts[key] = (rank, (c["theorem"], source, order, c["distance"], r["expanded"]))
    by_state: dict[str, list[tuple]] = defaultdict(list)
    for key in firsts:
        by_state[key[0]].append(key)
    kept = []
    for state, keys in by_state.items():
        keys.sort(key=lambda k: (draw(f"{p.seed}:{k[0]}:{k[1]}:{k[2]}"), k[1].encode(), k[2].encode()))
        kept += keys[: p.max_per_parent] if p.max_per_parent else keys
    out: dict[str, list[tuple]] = {"preferences_train": [], "preferences_val": []}
    for state, chosen, rejected in kept:
        theorem, source, order, distance, expanded = firsts[(state, chosen, rejected)][1]
        out[f"preferences_{_split(manifest, theorem)}"].append(
            (order, state, (format_prompt(state), chosen, rejected, theorem, source, state_hash(state), distance,
                            expanded)))
    for name, rows in out.items():
        rows.sort(key=lambda x: (x[0], x[2][3].encode(), x[1].encode(), x[2][1].encode(), x[2][2].encode()))
        out[name] = [r[2] for r in rows]
    return out


def values(manifest: Manifest) -> dict[str, list[tuple]]:
    """``out_values_train`` / ``_val`` rows."""
    tree = manifest.labels.source == "tree"
    records = [r for _, rows in _records(manifest) for r in rows
               if r["label"] in ("positive", "negative") and r["state_pp"] != ""]
    provable: dict[str, bool] = defaultdict(bool)
    distance: dict[str, int | None] = {}
    per_split: dict[tuple, dict] = {}
    for r in records:
        s = r["state_pp"]
        provable[s] |= r["label"] == "positive"
        d = r["distance"] if tree else (r["remaining_depth"] if r["label"] == "positive"
                                         and r["remaining_depth"] >= 0 else None)
        if d is not None:
            distance[s] = min(distance.get(s, d), d)
        acc = per_split.setdefault((_split(manifest, r["theorem_name"]), s),
                                   dict(nodes=0, visits=0, weighted=0.0, visited=0))
        acc["nodes"] += 1
        acc["visits"] += r["visits"]
        if r["visits"] > 0:
            acc["weighted"] += r["q_value"] * r["visits"]
            acc["visited"] += r["visits"]
    out: dict[str, list[tuple]] = {"values_train": [], "values_val": []}
    for (split, s), acc in per_split.items():
        q = acc["weighted"] / acc["visited"] if acc["visited"] else None
        out[f"values_{split}"].append((s, state_hash(s), provable[s], distance.get(s), acc["nodes"], acc["visits"], q))
    for rows in out.values():
        rows.sort(key=lambda r: r[1])
    return out
