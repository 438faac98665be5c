"""The iteration report: the data tables of an expert-iteration report, from a build's stats.

The layout and wording follow the iteration report our users already write by hand
(``Training Data Sources`` lines, the ``Contrastive Sampler Stats`` table, the
``Embeddings`` line, the eval-set lines), so a build's ``report.md`` can be pasted
into theirs; notes under each table say where our numbers mean something more
precise than the original (pairing, split, siblings). Rendering is a pure function
of the stats dict (``record.statistics``, from every stage's part), so the
report is as deterministic as the stats.
"""

from __future__ import annotations

from pathlib import Path

from prover_data.build.report_signals import labels_section, preferences_section, values_figure, values_section


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
    out += sft_section(stats)
    out += ebm_section(stats)
    out += labels_section(stats)
    out += preferences_section(stats)
    out += values_section(stats)
    if stats.get("eval"):
        out += eval_section(stats)
    if stats.get("search_config_text"):
        out += ["## Search Config", "", "```toml", stats["search_config_text"].rstrip(), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def sft_section(stats: dict) -> list[str]:
    sft = stats["sft"]
    out = ["## LLM Fine-tuning Data", "", "### Training Data Sources"]
    has_base = sft["base_records"] > 0
    if has_base:
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
    parent = sft["pairing"] == "parent"
    pairing = ("(parent's state, tactic), the state each tactic was applied to" if parent
               else "BurnQED-compatible (the record's own state, tactic), as BurnQED's train_llm.py pairs them")
    other = "BurnQED's own-state pairing" if parent else "the parent pairing"
    out += [
        "",
        f"Pairing: {pairing}. Under {other} the usable count would be "
        f"{_n(agree['usable_compat'] if parent else agree['usable_parent'])}; the two pairings disagree on "
        f"{_n(agree['only_parent'] + agree['only_compat'])} pairs ({_n(agree['only_parent'])} only under the "
        f"parent pairing, {_n(agree['only_compat'])} only under BurnQED's).",
        "",
        f"Split: by theorem (val fraction {stats['split']['val_fraction']}, seed {stats['split']['seed']}; "
        "a theorem's split depends on its name and the seed only): no theorem has pairs, base pairs "
        "included, in both splits. BurnQED's trainer split its trajectory examples by a random 10% of "
        "*examples*, which lets one theorem teach train and be scored in val. "
        f"Validation set: {_n(sft['combined_val'])} pairs ({_n(sft['base_val'])} base + "
        f"{_n(sft['trajectory_val'])} trajectory).",
    ]
    if has_base:
        filtered = sft["base_filtered"]
        out += [
            "",
            f"Base pairs: {_n(sft['base_records'])} traced tactics; {_n(filtered['empty'])} empty, "
            f"{_n(filtered['sorry'])} sorry and {_n(filtered['dup'])} duplicate pairs dropped; "
            f"{_n(sft['base_usable_train'])} train-side pairs "
            + (f"subsampled to {_n(sft['base_train'])} " if sft["base_train"] < sft["base_usable_train"] else "")
            + f"by a seeded content hash; {_n(sft['base_val'])} pairs of val theorems go to validation.",
        ]
    out.append("")
    if stats.get("plots", {}).get("sft_sources"):
        out += [f"![SFT pairs per source]({stats['plots']['sft_sources']})", ""]
    return out


def ebm_section(stats: dict) -> list[str]:
    c = stats["contrastive"]
    tr, va = c["train"], c["val"]
    total_mb = sum(f["size_bytes"] for f in stats["files"]) / 1_000_000
    out = ["## Training Data (for EBM)", "",
           f"**Trajectories** ({len(stats['files'])} files, ~{total_mb:,.1f} MB total):", "",
           "| File | Size | Columns |", "|---|---|---|"]
    out += [f"| {f['file']} | {_size(f['size_bytes'])} | "
            f"{'14' if f['search_values'] else '12 (no q_value, visits: read as 0)'} |" for f in stats["files"]]
    repeated = [f for f in stats["files"] if f["repeated_theorems"]]
    if repeated:
        out += ["", "Theorems searched more than once in a file: each root row of a theorem starts a new search "
                    "of it in its file, and nodes are matched within their search; "
                + "; ".join(f"{f['file']} searched {_n(f['repeated_theorems'])} of its {_n(f['theorems'])} "
                            f"theorems more than once ({_n(f['searches'])} searches)" for f in repeated) + "."]
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
        f"| False negatives {'excluded' if c['false_negatives'] == 'exclude' else 'kept'} (records / states) | "
        f"{_n(tr['false_negative_records'])} / {_n(tr['false_negative_states'])} | "
        f"{_n(va['false_negative_records'])} / {_n(va['false_negative_states'])} |",
        "",
    ]
    notes = [
        "Records are the positive and negative records the sampler loads"
        + (f" ({_n(tr['unknown_records'] + va['unknown_records'])} `unknown` records are ignored)"
           if tr["unknown_records"] + va["unknown_records"] else "")
        + "; the split is by theorem.",
        "\"Eligible positives\" counts *theorems* with at least one positive record, which is what BurnQED's "
        "sampler prints as eligible (in BurnQED's report 6,539 + 738 = 7,277, its proved theorems); they hold "
        f"{_n(tr['eligible_positive_records'])} train / {_n(va['eligible_positive_records'])} val positive records "
        f"a sample may start from" + _positive_states_note(c) + ".",
    ]
    extra = (tr["siblings_theorem_rule"] + va["siblings_theorem_rule"]) - (tr["siblings_file_rule"] + va["siblings_file_rule"])
    if c["sibling_scope"] == "file":
        notes.append("Siblings are negatives sharing their parent with a positive of the same theorem *in the "
                     "same file* (state ids number the nodes of one search); BurnQED's rule, matching the parent "
                     f"id across all files of the theorem, would count {_n(extra)} more sibling negatives, "
                     "siblings only by a reused state id.")
    else:
        notes.append("Siblings are matched by (theorem, parent id) across all files, BurnQED's rule; matching "
                     f"within one file's search (state ids are per search) would count {_n(extra)} fewer.")
    notes.append(_false_negatives_note(c))
    q = c["quotas"]
    samples = c["samples"]
    tiers = _tiers(c)
    notes.append(
        f"Sampling table: {c['rounds']} round(s) over the theorems with a positive, K = {c['k']} negatives each "
        f"({'/'.join(tiers)} {'/'.join(str(q[t]) for t in tiers)}; a short tier passes its shortfall on, "
        f"{', '.join(t for t in tiers if t in ('hard', 'embedding'))} -> medium -> easy; seed {c['seed']}): "
        + "; ".join(f"{split} {_n(samples[split]['rows'])} samples ("
                    + ", ".join(f"{_n(samples[split]['tiers'][t])} {t}" for t in tiers) + ")"
                    for split in ("train", "val"))
        + "." + _empty_split_note(c))
    if c.get("embedding_tier"):
        notes.append(_embedding_tier_note(c["embedding_tier"]))
    out += [f"{i}. {note}" for i, note in enumerate(notes, 1)]
    out.append("")
    if stats.get("plots", {}).get("contrastive"):
        out += [f"![Contrastive negatives]({stats['plots']['contrastive']})", ""]
    out += [embeddings_line(stats), ""]
    return out


def _false_negatives_note(c: dict) -> str:
    """What the false_negatives setting did, and what the other setting would have done."""
    tr, va = c["train"], c["val"]
    own = f"{_n(tr['own_positive_samples_keep'])} train / {_n(va['own_positive_samples_keep'])} val"
    text = ("False negatives are negative records whose exact state is a positive record in some trajectory "
            "file: the state is provable, whatever search reached it. ")
    if c["false_negatives"] == "exclude":
        return text + ("They are never drawn, in any tier (`[contrastive] false_negatives = \"exclude\"`); a tier "
                       "they empty passes its quota on. Under `\"keep\"` (BurnQED's sampler) "
                       f"{own} samples would hold their own positive's state as a negative.")
    drawn = tr["drawn_false_negatives"] + va["drawn_false_negatives"]
    held = tr["samples_with_false_negative"] + va["samples_with_false_negative"]
    return text + (f"They are drawn as BurnQED draws them (`false_negatives = \"keep\"`): {_n(drawn)} drawn negatives "
                   f"are provable states, in {_n(held)} samples; {own} samples hold their own positive's state "
                   "as a negative (`\"exclude\"` removes them).")


def _positive_states_note(c: dict) -> str:
    if c["positive_states"] != "non_empty":
        return ""
    lost = (c["train"]["eligible_theorems"] - c["train"]["sampled_theorems"]) + \
           (c["val"]["eligible_theorems"] - c["val"]["sampled_theorems"])
    text = " (completed nodes, whose state is empty, are not sampled as positives"
    if lost:
        text += f"; {_n(lost)} theorems have no other positive and get no sample"
    return text + ")"


def _tiers(c: dict) -> tuple[str, ...]:
    """The sampler's tiers in slot order; the embedding tier only when the manifest turns it on."""
    return ("hard", "embedding", "medium", "easy") if c.get("embedding_tier") else ("hard", "medium", "easy")


def _embedding_tier_note(t: dict) -> str:
    parts = []
    for split in ("train", "val"):
        s = t["splits"][split]
        cos = f", mean cosine {s['mean_cosine']:.4f}" if s["mean_cosine"] is not None else ""
        parts.append(f"{split}: {_n(s['anchors_with_vector'])} of {_n(s['anchors'])} positive states the samples start from, searched "
                     f"among {_n(s['pool_with_vector'])} of {_n(s['pool'])} negative states{cos}")
    missing = sum(t["splits"][x]["anchors"] - t["splits"][x]["anchors_with_vector"]
                  + t["splits"][x]["pool"] - t["splits"][x]["pool_with_vector"] for x in ("train", "val"))
    gap = (f" {_n(missing)} states have no vector and are left out (`prover-data embed` fills them)."
           if missing else "")
    return (f"Embedding tier: each anchor positive's {t['pool']} nearest negative states of its split by cosine "
            f"({t['encoder']} vectors of store version `{t['version']}` ({t['ref']}), faiss {t['index']} index); "
            + "; ".join(parts) + "." + gap)


def _empty_split_note(c: dict) -> str:
    empty = [s for s in ("train", "val") if c[s]["sampled_theorems"] and not c[s]["total_negatives"]]
    if not empty:
        return ""
    return f" The {' and '.join(empty)} split has no negative at all: nothing to contrast, so no samples."


def embeddings_line(stats: dict) -> str:
    """``**Embeddings**: 217,539 unique states (dim=4096), 24 uncached (~0.01%)``."""
    e = stats["embeddings"]
    dim = f" (dim={e['dim']})" if e.get("dim") else ""
    line = f"**Embeddings**: {_n(e['unique_states'])} unique states{dim}"
    if e.get("uncached") is not None:
        share = e["uncached"] / e["unique_states"] if e["unique_states"] else 0.0
        line += f", {_n(e['uncached'])} uncached (~{share:.2%})"
        if e.get("store_version"):
            line += f" for {e['encoder']} {e['dtype']} in store version `{e['store_version']}`"
        line += (f". The contrastive samples reference {_n(e['referenced'])} of them (the EBM needs no other "
                 f"vector, and never the empty state's), {_n(e['referenced_uncached'])} uncached")
    return line


def eval_section(stats: dict) -> list[str]:
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
    ax.set_title(f"{stats['name']}: positive records per source, by SFT filter outcome")
    ax.legend()
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(out_dir / "sft_sources.png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    made["sft_sources"] = "plots/sft_sources.png"

    fig = contrastive_figure(stats["contrastive"])
    fig.savefig(out_dir / "contrastive.png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    made["contrastive"] = "plots/contrastive.png"

    if stats["values"]["distances"]:
        fig = values_figure(stats["values"])
        fig.savefig(out_dir / "value_distances.png", dpi=100, metadata={"Software": None})
        plt.close(fig)
        made["value_distances"] = "plots/value_distances.png"
    return made


def contrastive_figure(c: dict):
    """The contrastive sampler's plot: negative records by kind (log scale), negatives drawn per tier.

    Every bar carries its count (``_compact``, narrow enough for its bar), and each axis
    ends high enough for its tallest bar, that bar's label and the legend
    (``_fit_labels``), whatever the magnitude.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig, (pools, drawn) = plt.subplots(1, 2, figsize=(10, 3.8))
    width = 0.38
    splits = ("train", "val")
    kinds = []
    for i, (key, label, color) in enumerate((("sibling_negatives", "sibling", "#e8590c"),
                                             ("non_sibling_negatives", "non-sibling", "#1971c2"))):
        kinds.append(pools.bar([j + (i - 0.5) * width for j in range(2)], [c[s][key] for s in splits], width,
                               label=label, color=color))
    pools.set_xticks(range(2), splits)
    pools.set_yscale("symlog")
    pools.set_title("negative records by kind")
    colors = {"hard": "#e8590c", "embedding": "#9c36b5", "medium": "#1971c2", "easy": "#868e96"}
    tiers = _tiers(c)
    bar = 0.8 / len(tiers)
    drawn_bars = []
    for i, tier in enumerate(tiers):
        drawn_bars.append(drawn.bar([j + (i - (len(tiers) - 1) / 2) * bar for j in range(2)],
                                    [c["samples"][s]["tiers"][tier] for s in splits], bar, label=tier,
                                    color=colors[tier]))
    drawn.set_xticks(range(2), splits)
    drawn.set_title(f"negatives drawn per tier (K = {c['k']}, {c['rounds']} rounds)")
    drawn.yaxis.set_major_locator(MaxNLocator(integer=True))
    drawn.yaxis.set_major_formatter(FuncFormatter(lambda y, _: _compact(y)))  # no "1e10" offset over the title
    for ax, containers in ((pools, kinds), (drawn, drawn_bars)):
        _fit_labels(ax, containers)
    fig.tight_layout()
    return fig


HEADROOM = 0.3  # share of an axis above its tallest bar: the bar's count label, then the legend


def _fit_labels(ax, containers) -> None:
    """Label each bar with its count; end the y axis ``HEADROOM`` above the tallest bar.

    The limit is set in the axis's own scale (linear, or symlog, where matplotlib's
    automatic limit stops at the tallest bar and cuts its top off), so the room above
    the bar is the same share of the plot at 10 or at 10^9. The legend sits in that
    room, in one row, clear of the labels.
    """
    import numpy as np

    for bars in containers:
        ax.bar_label(bars, labels=[_compact(b.get_height()) for b in bars], padding=2, fontsize=8)
    tallest = max((b.get_height() for bars in containers for b in bars), default=0)
    scale = ax.yaxis.get_transform()
    bottom, top = scale.transform(np.array([0.0, max(tallest, 1)]))
    ax.set_ylim(0, float(scale.inverted().transform(np.array([bottom + (top - bottom) / (1 - HEADROOM)]))[0]))
    ax.legend(loc="upper center", ncol=len(containers), fontsize=8, frameon=False)


def _compact(count: float) -> str:
    """4,608 / 23.5K / 235K / 4.61M / 98.8B: a count short enough to sit above its bar."""
    if count < 10_000:
        return _n(round(count))
    value, unit = count, ""
    for bigger in ("K", "M", "B", "T"):
        if float(f"{value:.3g}") < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.3g}{unit}"
