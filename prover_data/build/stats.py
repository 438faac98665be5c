"""The statistics stage: every figure of the iteration report the build's views give.

``collect_stats`` returns them as ``ViewFigures``, the stage's part of ``stats.json``
(``record`` assembles the whole); each figure is read from a view the build has
already materialized where it can be, every view's columns by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from prover_data.manifest import Manifest

TIERS = ("hard", "embedding", "medium", "easy")  # contrastive_samples' neg_tiers, in slot order


@dataclass(frozen=True)
class ViewFigures:
    """The figures of the views, each part as ``stats.json`` holds it under its key."""

    labels: dict
    preferences: dict
    values: dict
    files: list[dict]
    sft: dict
    contrastive: dict
    unique_states: int
    search_config_text: str | None  # the search config's text, shown in the report


def collect_stats(con, manifest: Manifest, sizes: dict[str, int]) -> ViewFigures:
    """Every figure of the report the views give (``sizes``: each trajectory file's bytes, by source)."""
    files = _rows(con, "sft_file_stats")
    for f in files:
        f["file"] = f"{f['source']}.parquet"
        f["size_bytes"] = sizes.get(f["source"], 0)
    agree = _rows(con, "pairing_agreement")[0]
    by_split = dict(con.execute(
        "SELECT split || ':' || (source = 'base')::INT, count(*) FROM sft_pairs GROUP BY ALL").fetchall())
    base_usable = dict(con.execute(
        "SELECT split, count(*) FROM base_pairs_classified WHERE status = 'usable' GROUP BY ALL").fetchall())
    base_status = dict(con.execute("SELECT status, count(*) FROM base_pairs_classified GROUP BY ALL").fetchall())
    bp = manifest.sources.base_pairs
    sft = {
        "pairing": manifest.filters.pairing,
        "usable": sum(f["usable"] for f in files),
        "empty": sum(f["empty"] for f in files),
        "sorry": sum(f["sorry"] for f in files),
        "dup": sum(f["dup"] for f in files),
        "trajectory_train": by_split.get("train:0", 0),
        "trajectory_val": by_split.get("val:0", 0),
        "base_train": by_split.get("train:1", 0),
        "base_val": by_split.get("val:1", 0),
        "base_usable_train": base_usable.get("train", 0),
        "base_usable_val": base_usable.get("val", 0),
        "base_records": sum(base_status.values()),
        "base_filtered": {k: base_status.get(k, 0) for k in ("empty", "sorry", "dup")},
        "base_subsample": bp.subsample if bp else None,
        "pairing_agreement": agree,
    }
    sft["combined_train"] = sft["trajectory_train"] + sft["base_train"]
    sft["combined_val"] = sft["trajectory_val"] + sft["base_val"]

    contrastive: dict = _by_split(con, "contrastive_stats")
    for split, figures in _by_split(con, "false_negative_stats").items():
        contrastive[split].update(figures)
    c = manifest.contrastive
    samples = dict(con.execute("SELECT split, count(*) FROM contrastive_samples GROUP BY ALL").fetchall())
    tiers = {f"{s}:{t}": n for s, t, n in con.execute(
        "SELECT split, t, count(*) FROM (SELECT split, unnest(neg_tiers) AS t FROM contrastive_samples) GROUP BY ALL"
    ).fetchall()}
    quotas = _rows(con, "contrastive_quotas")[0]  # the sampler's own rule (46_contrastive_samples.sql)
    contrastive.update({
        "k": c.k_negatives, "rounds": c.rounds, "seed": c.seed, "sibling_scope": c.sibling_scope,
        "positive_states": c.positive_states, "false_negatives": c.false_negatives,
        "quotas": {tier: quotas[tier] for tier in TIERS},
        "samples": {split: {"rows": samples.get(split, 0),
                            "tiers": {t: tiers.get(f"{split}:{t}", 0) for t in TIERS}}
                    for split in ("train", "val")},
    })
    search_config = manifest.sources.search_config
    return ViewFigures(
        labels=_labels(con, manifest),
        **_signals(con, manifest),
        files=files,
        sft=sft,
        contrastive=contrastive,
        unique_states=con.execute("SELECT count(*) FROM states").fetchall()[0][0],
        search_config_text=None if search_config is None else
        manifest.resolve(search_config).read_text(encoding="utf-8"),
    )


def _labels(con, manifest: Manifest) -> dict:
    """The report's Labels part (sql/stats/49_label_stats.sql): proofs, what the tree relabels."""
    per_file = _rows(con, "label_stats")
    totals = {k: sum(f[k] for f in per_file) for k in per_file[0] if k not in ("file_order", "source")} \
        if per_file else {}
    return {
        "source": manifest.labels.source,
        "files": per_file,
        "totals": totals,
        "proofs_per_search": {str(r["proofs"]): r["searches"] for r in _rows(con, "proofs_per_search")},
        **_rows(con, "label_agreement")[0],
    }


def _signals(con, manifest: Manifest) -> dict:
    """The report's Preference Pairs and Value Targets parts (sql/stats/79_signal_stats.sql)."""
    return {
        "preferences": {
            "rejected": manifest.preferences.rejected, "max_per_parent": manifest.preferences.max_per_parent,
            "by_source": _rows(con, "preference_stats"),
            "per_branch_point": {str(r["pairs"]): r["states"] for r in _rows(con, "preference_branching")},
        },
        "values": {
            "by_split": {r["split"]: r for r in _rows(con, "value_stats")},
            "distances": _rows(con, "value_distances"),
        },
    }


def _rows(con, view: str) -> list[dict]:
    """A view's rows as dicts, by column name."""
    rows = con.execute(f"SELECT * FROM {view}")
    cols = [d[0] for d in rows.description]
    return [dict(zip(cols, r)) for r in rows.fetchall()]


def _by_split(con, view: str) -> dict[str, dict]:
    """A per-split statistics view (a column ``split``) as {split: {other column: value}}."""
    return {row.pop("split"): row for row in _rows(con, view)}
