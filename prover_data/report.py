"""The iteration report: the data tables of an expert-iteration report, from a build's stats.

The layout and wording follow the iteration report our users already write by hand
(``Training Data Sources`` lines, the ``Contrastive Sampler Stats`` table, the
``Embeddings`` line, the eval-set lines), so a build's ``report.md`` can be pasted
into theirs; notes under each table say where our numbers mean something more
precise than the original (pairing, split, siblings). Rendering is a pure function
of the stats dict, so the report is as deterministic as the stats.
"""

from __future__ import annotations

from pathlib import Path


def _n(x: int) -> str:
    return f"{x:,}"


def _short(x: int) -> str:
    """50000 -> 50K, as the report writes sizes of subsamples."""
    return f"{x // 1000}K" if x >= 1000 and x % 1000 == 0 else _n(x)


def _size(nbytes: int) -> str:
    if nbytes >= 1_000_000:
        return f"{nbytes / 1_000_000:.1f} MB"
    return f"{max(1, round(nbytes / 1000))} KB"


def source_line(f: dict, first: bool) -> str:
    """``- iter_0.parquet: 84 usable examples (324 positive / 3,830 total, 240 empty filtered)``."""
    details = [f"{_n(f['positive'])} positive / {_n(f['total'])} total"]
    if f["empty"]:
        details.append(f"{_n(f['empty'])} empty filtered")
    if f["sorry"]:
        details.append(f"{_n(f['sorry'])} sorry")
    if f["dup"]:
        details.append(f"{_n(f['dup'])} deduped")
    noun = "usable examples" if first else "usable"
    return f"- {f['file']}: {_n(f['usable'])} {noun} ({', '.join(details)})"


def render(stats: dict) -> str:
    """The report's Markdown."""
    out: list[str] = [f"# {stats['name']}: data report", ""]
    if stats.get("description"):
        out += [stats["description"], ""]
    out += [f"Manifest `{stats['manifest']}`; built by prover-data {stats['version']}; "
            f"lock `lock.json`. Regenerate with `prover-data build-manifest {stats['name']}`.", ""]
    out += _sft_section(stats)
    out += _ebm_section(stats)
    if stats.get("eval"):
        out += _eval_section(stats)
    if stats.get("search_config_text"):
        out += ["## Search Config", "", "```toml", stats["search_config_text"].rstrip(), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def _sft_section(stats: dict) -> list[str]:
    sft = stats["sft"]
    out = ["## LLM Fine-tuning Data", "", "### Training Data Sources"]
    if sft["base_train"] or sft["base_val"]:
        sub = sft["base_subsample"]
        how = f"subsampled to {_short(sub)}" if sub is not None and sub < sft["base_usable_train"] else "all"
        out.append(f"- Base Mathlib tactic pairs ({how})")
    for i, f in enumerate(stats["files"]):
        out.append(source_line(f, first=i == 0))
    out.append(f"- **Total trajectory**: {_n(sft['usable'])} unique examples "
               f"(filtered: {_n(sft['empty'])} empty, {_n(sft['sorry'])} sorry, {_n(sft['dup'])} dup)")
    out.append(f"- **Trajectory split**: {_n(sft['trajectory_train'])} train / {_n(sft['trajectory_val'])} val")
    out.append(f"- **Combined training set**: {_n(sft['combined_train'])} "
               f"({_short(sft['base_train'])} base + {_n(sft['trajectory_train'])} trajectory)")
    agree = sft["pairing_agreement"]
    pairing = ("(parent's state, tactic): the state each tactic was applied to"
               if sft["pairing"] == "parent" else "BurnQED-compatible (row's own state, tactic)")
    out += [
        "",
        f"Pairing: {pairing}. Under the other pairing the usable count would be "
        f"{_n(agree['usable_compat'] if sft['pairing'] == 'parent' else agree['usable_parent'])}; "
        f"{_n(agree['only_parent'])} pairs exist only under the parent pairing and "
        f"{_n(agree['only_compat'])} only under BurnQED's own-state pairing.",
        f"Split: by theorem (val fraction {stats['split']['val_fraction']}, seed {stats['split']['seed']}); "
        f"no theorem has pairs in both splits. Validation set: {_n(sft['combined_val'])} pairs "
        f"({_n(sft['base_val'])} base + {_n(sft['trajectory_val'])} trajectory).",
        "",
    ]
    if stats.get("plots", {}).get("sft_sources"):
        out += [f"![SFT pairs per source]({stats['plots']['sft_sources']})", ""]
    return out


def _ebm_section(stats: dict) -> list[str]:
    c = stats["contrastive"]
    tr, va = c["train"], c["val"]
    total_mb = sum(f["size_bytes"] for f in stats["files"]) / 1_000_000
    out = ["## Training Data (for EBM)", "",
           f"**Trajectories** ({len(stats['files'])} files, ~{total_mb:,.1f} MB total):", "",
           "| File | Size |", "|---|---|"]
    out += [f"| {f['file']} | {_size(f['size_bytes'])} |" for f in stats["files"]]
    out += [
        "",
        f"**Contrastive Sampler Stats** (from {_n(tr['records'] + va['records'])} total records, "
        f"{_n(tr['records'])} train / {_n(va['records'])} val):",
        "",
        "|  | Train | Val |",
        "|---|---|---|",
        f"| Eligible positives (proof-path) | {_n(tr['eligible_theorems'])} | {_n(va['eligible_theorems'])} |",
        f"| Sibling negatives | {_n(tr['sibling_negatives'])} | {_n(va['sibling_negatives'])} |",
        f"| Non-sibling negatives | {_n(tr['non_sibling_negatives'])} | {_n(va['non_sibling_negatives'])} |",
        f"| Total negatives | {_n(tr['total_negatives'])} | {_n(va['total_negatives'])} |",
        "",
    ]
    extra = (tr["siblings_theorem_rule"] + va["siblings_theorem_rule"]) - (tr["siblings_file_rule"] + va["siblings_file_rule"])
    scope = c["sibling_scope"]
    out += [
        "Eligible positives counts theorems with at least one positive state, as BurnQED's sampler "
        f"prints it ({_n(tr['eligible_positive_records'])} train / {_n(va['eligible_positive_records'])} val "
        "positive records). "
        + (f"Siblings are matched within one file's search (state ids number one search's nodes); "
           f"BurnQED's cross-file rule would add {_n(extra)} sibling negatives that share only a "
           "reused state id." if scope == "file" else
           f"Siblings are matched by (theorem, parent id) across files, BurnQED's rule; matching within "
           f"one file's search would count {_n(extra)} fewer."),
        "",
        f"Sampling table: {c['rounds']} round(s) x eligible theorems, K = {c['k']} negatives each "
        f"(hard/medium/easy quotas {c['quotas']['hard']}/{c['quotas']['medium']}/{c['quotas']['easy']}, "
        f"shortfall passed hard -> medium -> easy): {_n(c['samples']['train'])} train / "
        f"{_n(c['samples']['val'])} val samples; negatives drawn per tier: "
        + ", ".join(f"{t} {_n(c['samples']['tiers'].get(t, 0))}" for t in ("hard", "medium", "easy")) + ".",
        "",
    ]
    if stats.get("plots", {}).get("contrastive"):
        out += [f"![Contrastive negatives]({stats['plots']['contrastive']})", ""]
    out += [_embeddings_line(stats), ""]
    return out


def _embeddings_line(stats: dict) -> str:
    e = stats["embeddings"]
    dim = f" (dim={e['dim']})" if e.get("dim") else ""
    line = f"**Embeddings**: {_n(e['unique_states'])} unique states{dim}"
    if e.get("uncached") is not None:
        share = e["uncached"] / e["unique_states"] if e["unique_states"] else 0.0
        line += f", {_n(e['uncached'])} uncached (~{share:.2%})"
        if e.get("store_version"):
            line += f" for {e['encoder']} {e['dtype']} in store version `{e['store_version']}`"
    elif e.get("note"):
        line += f"; {e['note']}"
    return line


def _eval_section(stats: dict) -> list[str]:
    out = ["## Evaluation", ""]
    for name, ev in stats["eval"].items():
        out += [f"### Eval dataset: `{ev['file']}`"]
        out += ev["lines"]
        out.append("")
    audit = stats.get("audit")
    if audit:
        out += [f"Contamination audit: {', '.join(audit['lists'])} and every eval set checked against the "
                f"training outputs by name and whitespace-normalized statement: {audit['verdict']}.", ""]
    return out


def plots(stats: dict, out_dir: Path) -> dict[str, str]:
    """PNG charts for the report; returns their paths relative to the build directory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    made = {}
    files = stats["files"]
    fig, ax = plt.subplots(figsize=(9, 4))
    names = [f["source"] for f in files]
    bottom = [0] * len(files)
    for key, color in (("usable", "#2b8a3e"), ("empty", "#adb5bd"), ("sorry", "#e03131"), ("dup", "#1c7ed6")):
        vals = [f[key] for f in files]
        ax.bar(names, vals, bottom=bottom, label=key, color=color)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("positive records")
    ax.set_yscale("symlog")
    ax.set_title(f"{stats['name']}: SFT pairs per source")
    ax.legend()
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(out_dir / "sft_sources.png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    made["sft_sources"] = "plots/sft_sources.png"

    c = stats["contrastive"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, split in zip(axes, ("train", "val")):
        s = c[split]
        ax.bar(["sibling", "non-sibling"], [s["sibling_negatives"], s["non_sibling_negatives"]], color=["#e8590c", "#1971c2"])
        ax.set_title(f"{split}: negatives ({s['eligible_theorems']:,} eligible theorems)")
    fig.tight_layout()
    fig.savefig(out_dir / "contrastive.png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    made["contrastive"] = "plots/contrastive.png"
    return made
