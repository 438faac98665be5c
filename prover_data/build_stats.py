"""Every figure of the iteration report, from the build's views: ``stats.json``.

``report.render`` turns the dict into text, so the report holds nothing this does not;
each figure is read from a view the build has already materialized where it can be.
"""

from __future__ import annotations

import math

from prover_data import __version__
from prover_data.manifest import Manifest

TIERS = ("hard", "embedding", "medium", "easy")  # contrastive_samples' neg_tiers, in slot order


def collect_stats(con, manifest: Manifest, sizes: dict[str, int]) -> dict:
    """Every figure of the report, from the views; ``report.render`` turns it into text."""
    files = [dict(zip(("file_order", "source", "total", "positive", "usable", "empty", "sorry", "dup", "theorems",
                       "searches"), r))
             for r in con.execute("SELECT * FROM sft_file_stats").fetchall()]
    for f in files:
        f["file"] = f"{f['source']}.parquet"
        f["size_bytes"] = sizes.get(f["source"], 0)
    agree = dict(zip(("usable_parent", "usable_compat", "only_parent", "only_compat"),
                     con.execute("SELECT * FROM pairing_agreement").fetchall()[0]))
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
    def quota(ratio: float) -> int:  # DuckDB's round(): half away from zero, not Python's half to even
        return math.floor(c.k_negatives * ratio + 0.5)

    hard, medium, nearest = quota(c.hard_ratio), quota(c.medium_ratio), quota(c.embedding_ratio)
    contrastive.update({
        "k": c.k_negatives, "rounds": c.rounds, "seed": c.seed, "sibling_scope": c.sibling_scope,
        "positive_states": c.positive_states, "false_negatives": c.false_negatives,
        "quotas": {"hard": hard, "embedding": nearest, "medium": medium, "easy": c.k_negatives - hard - nearest - medium},
        "samples": {split: {"rows": samples.get(split, 0),
                            "tiers": {t: tiers.get(f"{split}:{t}", 0) for t in TIERS}}
                    for split in ("train", "val")},
    })
    emb = manifest.embeddings
    stats = {
        "name": manifest.name,
        "description": manifest.description,
        "manifest": manifest.path.name,
        "version": __version__,
        "split": {"val_fraction": manifest.split.val_fraction, "seed": manifest.split.seed},
        "files": files,
        "sft": sft,
        "contrastive": contrastive,
        "embeddings": {
            "unique_states": con.execute("SELECT count(*) FROM states").fetchall()[0][0],
            "dim": emb.dim if emb else None,
            # Filled by the embedding store's hook: states of this build it lacks.
            "uncached": None,
        },
    }
    if manifest.sources.search_config is not None:
        stats["search_config_text"] = manifest.resolve(manifest.sources.search_config).read_text(encoding="utf-8")
    return stats


def _by_split(con, view: str) -> dict[str, dict]:
    """A per-split statistics view (first column ``split``) as {split: {column: value}}."""
    rows = con.execute(f"SELECT * FROM {view}")
    cols = [d[0] for d in rows.description]
    return {r[0]: dict(zip(cols[1:], r[1:])) for r in rows.fetchall()}
