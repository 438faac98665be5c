"""An independent, plain-Python computation of everything the SQL views compute.

It re-implements the rules of ``sql/`` as the SQL headers state them -- loops over
rows, dicts and sets, ``hashlib`` -- without DuckDB, so a test (and the benchmark's
``--verify``) can hold the views to the same numbers and the same output rows. Slow
by design (a Python loop per record); fine for the bundled sample, a few minutes at
report scale.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from prover_data.identity import split_bucket, state_hash
from prover_data.manifest import Manifest

BASE_ORDER = 1_000_000  # sft_pairs' source order of base pairs: after every file


def draw(key: str) -> int:
    """sql/macros.sql draw(): the first 60 bits of MD5(key)."""
    return int(hashlib.md5(key.encode("utf-8")).hexdigest()[:15], 16)


def sql_round(x: float) -> int:
    """DuckDB's (and Rust's) round(): halves away from zero."""
    return int(math.floor(x + 0.5))


@dataclass
class Reference:
    files: list[dict] = field(default_factory=list)
    sft: dict = field(default_factory=dict)
    contrastive: dict = field(default_factory=dict)
    unique_states: int = 0
    outputs: dict[str, list[tuple]] = field(default_factory=dict)


def _records(manifest: Manifest) -> list[tuple[str, list[dict]]]:
    """Each file's rows, each with its ``search`` (for a theorem with several root rows in
    the file, the number of its roots at or above the row, minus one; else 0) and the
    labels of the manifest's [labels] source (``tree_labels``; the file's stay in
    ``file_label`` and ``file_remaining_depth``)."""
    cols = ["theorem_name", "state_id", "state_pp", "tactic_applied", "parent_state_id", "label",
            "depth_from_root", "remaining_depth", "is_proof_complete"]
    files = []
    for p in manifest.trajectory_paths():
        present = pq.read_schema(p).names
        rows = pq.read_table(p, columns=cols + [c for c in ("q_value", "visits") if c in present]).to_pylist()
        for r in rows:  # a 12-column file's are 0, as BurnQED reads them
            r.setdefault("q_value", 0.0)
            r.setdefault("visits", 0)
        files.append((p.stem, label(rows, manifest.labels.source)))
    return files


def label(rows: list[dict], source: str) -> list[dict]:
    """One file's rows with their ``search`` and the labels of ``source`` ("tree" or
    "file"); the file's own stay in ``file_label`` and ``file_remaining_depth``."""
    is_root = [r["parent_state_id"] is None and r["depth_from_root"] == 0 for r in rows]
    total = Counter(r["theorem_name"] for r, root in zip(rows, is_root) if root)
    seen: Counter = Counter()
    for r, root in zip(rows, is_root):
        seen[r["theorem_name"]] += root
        r["search"] = seen[r["theorem_name"]] - 1 if total[r["theorem_name"]] > 1 else 0
    tree_labels(rows)
    for r in rows:
        r["file_label"], r["file_remaining_depth"] = r["label"], r["remaining_depth"]
        if source == "tree" and r["provable"]:
            r["label"], r["remaining_depth"] = "positive", r["distance"]
    return rows


def tree_labels(rows: list[dict]) -> None:
    """Set each row's ``provable`` and ``distance`` by the definitions, one file's rows:
    a node (search, theorem, state id) is provable when it is complete or one of its
    children is provable; its distance is 0 when complete, else 1 + the least distance
    of its provable children. A node met again on its own walk down (a parent loop) adds
    nothing."""
    children: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["parent_state_id"] is not None:
            children[(r["search"], r["theorem_name"], r["parent_state_id"])].append(r)
    memo: dict[int, int | None] = {}

    def distance(r: dict, walking: set[int]) -> int | None:
        if id(r) in memo:
            return memo[id(r)]
        if r["is_proof_complete"]:
            memo[id(r)] = 0
            return 0
        walking = walking | {id(r)}
        below = [distance(c, walking) for c in children[(r["search"], r["theorem_name"], r["state_id"])]
                 if id(c) not in walking]
        found = [d for d in below if d is not None]
        memo[id(r)] = min(found) + 1 if found else None
        return memo[id(r)]

    for r in rows:
        r["distance"] = distance(r, set())
        r["provable"] = r["distance"] is not None


def _classify(files, manifest: Manifest, pairing: str) -> tuple[list[dict], list[dict]]:
    """Per-file counts and the usable pairs (with their representative record)."""
    f = manifest.filters
    seen: set[tuple[str, str]] = set()
    counts, usable = [], []
    for order, (source, rows) in enumerate(files):
        own = pairing == "burnqed_compat" or source in f.own_state_sources
        by_id = {(r["theorem_name"], r["search"], r["state_id"]): r for r in rows}
        c = Counter(total=len(rows))
        candidates = []
        for r in rows:
            if r["label"] != "positive":
                continue
            c["positive"] += 1
            if own:
                state, depth = r["state_pp"], r["depth_from_root"]
            else:
                parent = by_id.get((r["theorem_name"], r["search"], r["parent_state_id"]))
                state, depth = (parent["state_pp"] if parent else ""), r["depth_from_root"] - 1
            candidates.append((r["theorem_name"], depth, r["state_id"], r["search"], state.strip(),
                               r["tactic_applied"].strip()))
        # first occurrence inside a file: least (theorem, depth, state id, search), as sql/12 says
        for theorem, depth, _, _, state, tactic in sorted(candidates, key=lambda x: (x[0].encode(), *x[1:4])):
            if f.drop_empty and (not state or not tactic):
                c["empty"] += 1
            elif f.drop_sorry and "sorry" in tactic:
                c["sorry"] += 1
            elif f.dedup and (state, tactic) in seen:
                c["dup"] += 1
            else:
                seen.add((state, tactic))
                c["usable"] += 1
                usable.append(dict(theorem=theorem, source=source, order=order, state=state, tactic=tactic,
                                   depth=depth))
        counts.append(dict(file_order=order, source=source, total=c["total"], positive=c["positive"],
                           usable=c["usable"], empty=c["empty"], sorry=c["sorry"], dup=c["dup"],
                           theorems=len({r["theorem_name"] for r in rows}),
                           searches=len({(r["theorem_name"], r["search"]) for r in rows})))
    return counts, usable


def _split(manifest: Manifest, theorem: str) -> str:
    return "val" if split_bucket(manifest.split.seed, theorem) < manifest.split.val_fraction else "train"


def _base_pairs(manifest: Manifest, base) -> tuple[list[dict], Counter]:
    """Usable base pairs after dedup, split by theorem, train side subsampled."""
    status: Counter = Counter()
    if base is None:
        return [], status
    bp = manifest.sources.base_pairs
    rows = sorted(base.select(["theorem_name", "tactic_index", "state_pp", "tactic"]).to_pylist(),
                  key=lambda r: (r["theorem_name"].encode(), r["tactic_index"]))
    seen: set[tuple[str, str]] = set()
    kept = []
    for r in rows:
        state, tactic = r["state_pp"].strip(), r["tactic"].strip()
        if not state or not tactic:
            status["empty"] += 1
        elif "sorry" in tactic:
            status["sorry"] += 1
        elif (state, tactic) in seen:
            status["dup"] += 1
        else:
            seen.add((state, tactic))
            status["usable"] += 1
            kept.append(dict(theorem=r["theorem_name"], source="base", order=BASE_ORDER, state=state,
                             tactic=tactic, depth=r["tactic_index"], split=_split(manifest, r["theorem_name"]),
                             rank=draw(f"{bp.seed}:{r['theorem_name']}:{state}:{tactic}")))
    train = sorted((p for p in kept if p["split"] == "train"),
                   key=lambda p: (p["rank"], p["theorem"].encode(), p["depth"]))
    status["usable_train"] = len(train)
    status["usable_val"] = sum(p["split"] == "val" for p in kept)
    if bp.subsample is not None:
        train = train[: bp.subsample]
    return train + [p for p in kept if p["split"] == "val"], status


def compute(manifest: Manifest, base=None) -> Reference:
    """Every count of the report and every output row, by loops. ``base``: read_leandojo's table."""
    ref = Reference()
    files = _records(manifest)
    counts, usable = _classify(files, manifest, manifest.filters.pairing)
    _, usable_parent = _classify(files, manifest, "parent")
    _, usable_compat = _classify(files, manifest, "burnqed_compat")
    ref.files = counts
    parent_set = {(p["state"], p["tactic"]) for p in usable_parent}
    compat_set = {(p["state"], p["tactic"]) for p in usable_compat}
    for p in usable:
        p["split"] = _split(manifest, p["theorem"])
    base_pairs, base_status = _base_pairs(manifest, base)
    split_counts = Counter(p["split"] for p in usable)
    base_split = Counter(p["split"] for p in base_pairs)
    ref.sft = dict(
        usable=len(usable), empty=sum(c["empty"] for c in counts), sorry=sum(c["sorry"] for c in counts),
        dup=sum(c["dup"] for c in counts), trajectory_train=split_counts["train"],
        trajectory_val=split_counts["val"], base_train=base_split["train"], base_val=base_split["val"],
        base_usable_train=base_status["usable_train"], base_usable_val=base_status["usable_val"],
        pairing_agreement=dict(usable_parent=len(parent_set), usable_compat=len(compat_set),
                               only_parent=len(parent_set - compat_set), only_compat=len(compat_set - parent_set)),
    )
    for split in ("train", "val"):
        rows = [(p["theorem"], p["source"], p["state"], p["tactic"], state_hash(p["state"]), p["depth"])
                for p in usable + base_pairs if p["split"] == split]
        order = {p["source"]: p["order"] for p in usable + base_pairs}
        rows.sort(key=lambda r: (order[r[1]], r[0].encode(), r[5], r[2].encode(), r[3].encode()))
        ref.outputs[f"sft_{split}"] = rows

    _contrastive(ref, manifest, files)
    return ref


def _contrastive(ref: Reference, manifest: Manifest, files) -> None:
    c = manifest.contrastive
    exclude = c.false_negatives == "exclude"
    stats = {s: Counter() for s in ("train", "val")}
    eligible = {s: set() for s in ("train", "val")}
    sampled = {s: set() for s in ("train", "val")}
    positives: dict[tuple[str, str], list[tuple]] = defaultdict(list)  # (split, theorem) -> records
    # pools[policy][(split, theorem, tier)] and split_negatives[policy][split]: what each
    # false_negatives policy draws from
    pools = {p: defaultdict(list) for p in ("keep", "exclude")}
    split_negatives = {p: defaultdict(list) for p in ("keep", "exclude")}
    false_states: dict[str, set] = defaultdict(set)
    states: dict[str, Counter] = {}
    theorem_parents: dict[str, set] = defaultdict(set)
    positive_texts = {r["state_pp"] for _, rows in files for r in rows if r["label"] == "positive"}
    for order, (source, rows) in enumerate(files):
        for r in rows:
            if r["label"] == "positive" and r["parent_state_id"] is not None:
                theorem_parents[r["theorem_name"]].add(r["parent_state_id"])
    for order, (source, rows) in enumerate(files):
        search_parents = {(r["theorem_name"], r["search"], r["parent_state_id"]) for r in rows
                          if r["label"] == "positive" and r["parent_state_id"] is not None}
        for r in rows:
            theorem, label = r["theorem_name"], r["label"]
            split = _split(manifest, theorem)
            s = stats[split]
            if label not in ("positive", "negative"):
                s["unknown_records"] += 1
                continue
            s["records"] += 1
            h = state_hash(r["state_pp"])
            states.setdefault(r["state_pp"], Counter())[label] += 1
            key = (h, order, r["search"], r["state_id"])
            if label == "positive":
                eligible[split].add(theorem)
                if c.positive_states == "all" or r["state_pp"] != "":
                    sampled[split].add(theorem)
                    s["eligible_positive_records"] += 1
                    positives[(split, theorem)].append((*key, source, r["remaining_depth"]))
                continue
            in_file = r["parent_state_id"] is not None and (theorem, r["search"], r["parent_state_id"]) in search_parents
            in_theorem = r["parent_state_id"] in theorem_parents[theorem]
            hard = in_file if c.sibling_scope == "file" else in_theorem
            false_negative = r["state_pp"] in positive_texts
            if false_negative:
                s["false_negative_records"] += 1
                false_states[split].add(h)
            for policy in ("keep", "exclude"):
                if policy == "exclude" and false_negative:
                    continue
                pools[policy][(split, theorem, "hard" if hard else "medium")].append(key)
                split_negatives[policy][split].append((h, theorem, order, r["search"], r["state_id"]))
            if exclude and false_negative:
                continue
            s["siblings_file_rule"] += in_file
            s["siblings_theorem_rule"] += in_theorem
            s["sibling_negatives" if hard else "non_sibling_negatives"] += 1
            s["total_negatives"] += 1
    for split in ("train", "val"):
        stats[split]["eligible_theorems"] = len(eligible[split])
        stats[split]["sampled_theorems"] = len(sampled[split])
        stats[split]["false_negative_states"] = len(false_states[split])
    ref.unique_states = len(states)
    ref.outputs["states"] = sorted(
        (state_hash(s), s, sum(n.values()), n["positive"], n["negative"]) for s, n in states.items())

    positive_hashes = {state_hash(t) for t in positive_texts}
    for split in ("train", "val"):
        samples = _draw(c, split, positives, pools[c.false_negatives], split_negatives[c.false_negatives][split])
        ref.outputs[f"contrastive_{split}"] = [(i, *s) for i, s in enumerate(samples)]
        drawn = [sum(h in positive_hashes for h in s[5]) for s in samples]
        stats[split]["drawn_false_negatives"] = sum(drawn)
        stats[split]["samples_with_false_negative"] = sum(n > 0 for n in drawn)
        keep = _draw(c, split, positives, pools["keep"], split_negatives["keep"][split])
        stats[split]["own_positive_samples_keep"] = sum(s[3] in s[5] for s in keep)
    ref.contrastive = {s: dict(v) for s, v in stats.items()}


def _draw(c, split: str, positives, pools, negatives) -> list[tuple]:
    """The samples of one split: (round, theorem, source, positive hash, depth, hashes, tiers)."""
    hard0, medium0 = sql_round(c.k_negatives * c.hard_ratio), sql_round(c.k_negatives * c.medium_ratio)
    negs = sorted(negatives, key=lambda x: (x[0], x[1].encode(), *x[2:]))
    theorems = sorted({t for (s, t) in positives if s == split}, key=str.encode)
    samples = []
    for rnd in range(1, c.rounds + 1):
        for theorem in theorems:
            if not negs:
                continue
            pos = sorted(positives[(split, theorem)])
            p = pos[draw(f"{c.seed}:positive:{rnd}:{theorem}") % len(pos)]
            hard = sorted(pools.get((split, theorem, "hard"), []))
            medium = sorted(pools.get((split, theorem, "medium"), []))
            q_hard = hard0 if hard else 0
            q_medium = medium0 + hard0 - q_hard if medium else 0
            hashes, tiers = [], []
            for position in range(c.k_negatives):
                tier = "hard" if position < q_hard else "medium" if position < q_hard + q_medium else "easy"
                slot = f"{c.seed}:{tier}:{rnd}:{theorem}:{position}"
                if tier == "easy":
                    tries = [negs[draw(f"{slot}:{i}") % len(negs)] for i in range(3)]
                    pick = next((t for t in tries if t[1] != theorem), tries[2])
                    hashes.append(pick[0])
                else:
                    pool = hard if tier == "hard" else medium
                    hashes.append(pool[draw(slot) % len(pool)][0])
                tiers.append(tier)
            samples.append((rnd, theorem, p[4], p[0], p[5], hashes, tiers))
    return samples
