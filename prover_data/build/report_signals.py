"""The report's parts on what the search trees say beyond SFT pairs and contrastive
samples: the labels the trees give, the preference pairs at branch points, the value
targets of each state. Pure functions of the stats dict, like ``report``."""

from __future__ import annotations


def n(x: int) -> str:
    return f"{x:,}"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def labels_section(stats: dict) -> list[str]:
    """What the search trees prove beside what the files label (sql/stats/49_label_stats.sql)."""
    lab = stats["labels"]
    t = lab["totals"]
    tree = lab["source"] == "tree"
    out = ["## Labels", "",
           f"Labels from the **{lab['source']}** (`[labels] source = \"{lab['source']}\"`): "
           + ("a node is positive when its search tree proves it (a completed node, or the parent of a provable "
              "node) or its file labels it positive; remaining_depth is the distance to the nearest proof below."
              if tree else "the files' labels as written. BurnQED's writer labels only the path to a search's "
              "first proof positive, every later proof and its path negative."), "",
           "| Proofs in a proved search | Searches |", "|---|---|"]
    out += [f"| {p} | {n(searches)} |" for p, searches in lab["proofs_per_search"].items()]
    added = lab["sft_pairs_only_tree"]
    out += ["",
            f"- Completed nodes (proofs): {n(t['completed_nodes'])}",
            f"- Nodes the tree makes positive that the files label otherwise: {n(t['relabelled_nodes'])}"
            + ("" if tree else " (not applied: the files' labels stand)"),
            f"- SFT pairs the later proofs add: {n(added)} ({n(lab['sft_pairs_file'])} usable pairs from the files' "
            f"labels, {n(lab['sft_pairs_tree'])} from the tree's)" + ("" if tree else "; not in this build's SFT data"),
            f"- Negative records of the files that the tree proves: {n(t['provable_file_negatives'])} "
            f"({n(t['provable_file_negative_states'])} states): under `\"file\"` the sampler draws from them",
            f"- Drawn negatives whose state some node proves: {n(lab['drawn_provable_negatives'])}, in "
            f"{n(lab['samples_with_provable_negative'])} of {n(lab['samples'])} samples",
            f"- Records the files call positive with no completed node below them: "
            f"{n(t['positive_without_proof'])} (a proof path listed without its final node, or a generate-negatives "
            "chain)",
            ""]
    return out


def preferences_section(stats: dict) -> list[str]:
    """Pairs per split and source, pairs per branch point, rejected tactics expanded or not."""
    p = stats["preferences"]
    rows = p["by_source"]
    total = {s: sum(r["pairs"] for r in rows if r["split"] == s) for s in ("train", "val")}
    expanded = sum(r["rejected_expanded"] for r in rows)
    out = ["## Preference Pairs (for DPO)", "",
           f"At each branch point (a node with a non-empty state), a child that is positive (chosen) against one "
           f"that holds no proof (rejected: negative in its file and by the tree, and its state positive nowhere); "
           f"rejected = `{p['rejected']}`"
           + (f", at most {p['max_per_parent']} pairs per state (a seeded choice)" if p["max_per_parent"] else "")
           + f". One row per distinct (state, chosen, rejected): {n(total['train'])} train / {n(total['val'])} val, "
           f"split by theorem as the SFT pairs.", "",
           "| Split | Source | Pairs | Rejected expanded |", "|---|---|---|---|"]
    out += [f"| {r['split']} | {r['source']} | {n(r['pairs'])} | {n(r['rejected_expanded'])} |" for r in rows]
    pairs = sum(total.values())
    branching = p["per_branch_point"]
    out += ["",
            f"Rejected tactics whose node was expanded and still holds no proof: {n(expanded)} of {n(pairs)} "
            f"({_share(expanded, pairs)}); the rest were never expanded. Pairs per branch point: "
            + (", ".join(f"{k}: {n(v)} states" for k, v in branching.items()) if branching else "none") + ".", ""]
    return out


def values_section(stats: dict) -> list[str]:
    """Provable share and distances of the value targets, per split."""
    v = stats["values"]
    out = ["## Value Targets", "",
           "One row per (split, state) of the positive and negative records: provable (some record of the "
           "state is positive, anywhere), the least distance to a proof, and the split's nodes, visits and "
           "visit-weighted q_value.", "",
           "|  | Train | Val |", "|---|---|---|"]
    by = v["by_split"]
    get = lambda s, k: by.get(s, {}).get(k, 0)  # noqa: E731
    for key, label in (("states", "States"), ("provable", "Provable"), ("with_distance", "With a distance"),
                       ("with_visits", "With PUCT visits"), ("in_both_splits", "Also in the other split")):
        out.append(f"| {label} | {n(get('train', key))} | {n(get('val', key))} |")
    out += ["",
            f"Provable share: {_share(get('train', 'provable'), get('train', 'states'))} train, "
            f"{_share(get('val', 'provable'), get('val', 'states'))} val. A state reached by theorems of both "
            "splits is a target in each (the split is by theorem); its provable and distance are the same in both.",
            ""]
    if stats.get("plots", {}).get("value_distances"):
        out += [f"![Distance to a proof]({stats['plots']['value_distances']})", ""]
    return out


def values_figure(values: dict):
    """A histogram of the provable states' distances to a proof, train and val side by side."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for split, offset, color in (("train", -0.2, "#1c7ed6"), ("val", 0.2, "#e8590c")):
        rows = [r for r in values["distances"] if r["split"] == split]
        ax.bar([r["distance"] + offset for r in rows], [r["states"] for r in rows], width=0.4, label=split,
               color=color)
    ax.set_xlabel("distance to a proof (steps)")
    ax.set_ylabel("states")
    ax.set_yscale("symlog")
    ax.set_title("Value targets: provable states by distance to a proof")
    ax.legend()
    fig.tight_layout()
    return fig
