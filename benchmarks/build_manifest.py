"""build-manifest against a straightforward pandas pipeline and BurnQED's SFT loader loop.

    python benchmarks/build_manifest.py [--scales 1 16] [--work DIR] [--keep] [--json]

For each scale, on a replica written by ``prover-data synth`` (scale 1.0 ≈ 650K records,
16 ≈ 10M), every run is a fresh process whose peak RSS is read from ``wait4``:

* **cold build** -- ``prover-data build-manifest iter_4 --force``: validation, every
  output, statistics, eval set and audit, report with plots, lock, views.duckdb;
* **no-op rebuild** -- the same command again, inputs unchanged;
* **baseline 1, pandas** -- the data work written the obvious way in pandas: read the
  8 files, pair each positive with its parent's state, strip, filter empty/sorry, dedup
  across files in manifest order, split by theorem, base pairs (LeanDojo JSON via
  ``json.load``, filtered, deduped, subsampled), contrastive records, sibling and
  non-sibling negatives, K-negative sampling per theorem, unique states with MD5 keys,
  parquet outputs. No validation, report, plots, eval set or lock: less work than the
  build. Its counts must equal the build's ``stats.json`` (checked);
* **baseline 2, BurnQED's loader** -- ``train_llm.py``'s loop: ``iterrows`` over each
  file's positive rows with a Python set of (state, tactic); SFT only. Its usable count
  must equal the build's count under BurnQED's own-state pairing (checked);
* **views, SFT only** -- baseline 2's work through the SQL views (``sft_classify`` with
  BurnQED's pairing, straight off the parquet files): the like-for-like comparison with
  baseline 2, whose counts it must equal (checked).

Prints the figures, and the ratios against the issue's targets (cold build >= 2.5x
faster than baseline 1 and >= 5x than baseline 2, no-op <= 0.5 s, linear growth and
peak RSS <= 4 GiB at scale 16).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MANIFEST = REPO / "manifests" / "iter_4.toml"
CLI = [str(Path(sys.executable).parent / "prover-data")]


def run_measured(cmd: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, stdout) of one fresh process (``wait4`` on its pid)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return wall, usage.ru_maxrss * 1024, out


# --------------------------------------------------------------------------- baseline 1


def pandas_pipeline(root: Path, out: Path) -> dict:
    """The build's data work, the obvious way in pandas; returns its counts."""
    import hashlib

    import numpy as np
    import pandas as pd

    from prover_data.identity import split_bucket
    from prover_data.manifest import load_manifest

    m = load_manifest(MANIFEST, root)
    seed, val_fraction = m.split.seed, m.split.val_fraction
    own = set(m.filters.own_state_sources)
    frames = []
    for order, path in enumerate(m.trajectory_paths()):
        df = pd.read_parquet(path)
        df["source"], df["file_order"] = path.stem, order
        frames.append(df)
    t = pd.concat(frames, ignore_index=True)
    names = t["theorem_name"].unique()
    split_of = pd.Series(np.where([split_bucket(seed, n) < val_fraction for n in names], "val", "train"), index=names)
    t["split"] = t["theorem_name"].map(split_of)

    # SFT: (parent's state, tactic), or the own state for generate-negatives files
    pos = t[t["label"] == "positive"]
    parents = t[["file_order", "theorem_name", "state_id", "state_pp"]].rename(
        columns={"state_id": "parent_state_id", "state_pp": "parent_pp"})
    c = pos.merge(parents, on=["file_order", "theorem_name", "parent_state_id"], how="left")
    own_rows = c["source"].isin(own)
    c["state"] = c["state_pp"].where(own_rows, c["parent_pp"].fillna("")).str.strip()
    c["depth"] = np.where(own_rows, c["depth_from_root"].astype(np.int64), c["depth_from_root"].astype(np.int64) - 1)
    c["tactic"] = c["tactic_applied"].str.strip()
    c["is_empty"] = (c["state"] == "") | (c["tactic"] == "")
    c["is_sorry"] = ~c["is_empty"] & c["tactic"].str.contains("sorry", regex=False)
    c = c.sort_values(["file_order", "theorem_name", "depth", "state_id"], kind="stable")
    ok = ~(c["is_empty"] | c["is_sorry"])
    c["is_dup"] = False
    c.loc[ok, "is_dup"] = c.loc[ok].duplicated(["state", "tactic"])
    c["usable"] = ok & ~c["is_dup"]
    per_file = c.groupby("source").agg(positive=("state_id", "size"), usable=("usable", "sum"),
                                       empty=("is_empty", "sum"), sorry=("is_sorry", "sum"), dup=("is_dup", "sum"))
    totals = t.groupby("source").size()
    pairs = c[c["usable"]]
    pairs = pairs.assign(source_order=pairs["file_order"], state_hash=pairs["state"].map(
        lambda s: hashlib.md5(s.encode()).digest()))

    # base pairs
    base = m.sources.base_pairs
    doc = json.loads(m.resolve(base.path).read_text(encoding="utf-8"))
    b = pd.DataFrame([{"theorem_name": th["full_name"], "tactic_index": i, "state": tt["state_before"].strip(),
                       "tactic": tt["tactic"].strip()}
                      for th in doc for i, tt in enumerate(th["traced_tactics"])])
    del doc
    b = b.sort_values(["theorem_name", "tactic_index"], kind="stable")
    bad = (b["state"] == "") | (b["tactic"] == "") | b["tactic"].str.contains("sorry", regex=False)
    b = b[~bad & ~b.duplicated(["state", "tactic"])].copy()
    b["split"] = np.where([split_bucket(seed, n) < val_fraction for n in b["theorem_name"]], "val", "train")
    b["rank_key"] = [int(hashlib.md5(f"{base.seed}:{n}:{s}:{tc}".encode()).hexdigest()[:15], 16)
                     for n, s, tc in zip(b["theorem_name"], b["state"], b["tactic"])]
    b_train = b[b["split"] == "train"].sort_values(["rank_key", "theorem_name", "tactic_index"]).head(base.subsample)
    b_val = b[b["split"] == "val"]
    for name, part, base_part in (("sft_train", "train", b_train), ("sft_val", "val", b_val)):
        traj = pairs[pairs["split"] == part]
        frame = pd.concat([traj[["theorem_name", "source", "state", "tactic", "depth"]],
                           base_part.assign(source="base", depth=base_part["tactic_index"])[
                               ["theorem_name", "source", "state", "tactic", "depth"]]])
        frame.to_parquet(out / f"{name}.parquet", index=False)

    # contrastive
    rec = t[t["label"].isin(["positive", "negative"])]
    positives = rec[rec["label"] == "positive"]
    pp = positives.loc[positives["parent_state_id"].notna(), ["file_order", "theorem_name", "parent_state_id"]]
    pp = pp.drop_duplicates().assign(sibling=True)
    neg = rec[rec["label"] == "negative"].merge(pp, on=["file_order", "theorem_name", "parent_state_id"], how="left")
    neg["sibling"] = neg["sibling"].fillna(False).astype(bool)
    sampled = positives[positives["state_pp"] != ""] if m.contrastive.positive_states == "non_empty" else positives
    contrastive = {}
    for split in ("train", "val"):
        p_split, n_split = positives[positives["split"] == split], neg[neg["split"] == split]
        contrastive[split] = {
            "eligible_theorems": int(p_split["theorem_name"].nunique()),
            "eligible_positive_records": int((sampled["split"] == split).sum()),
            "sibling_negatives": int(n_split["sibling"].sum()),
            "non_sibling_negatives": int((~n_split["sibling"]).sum()),
            "total_negatives": len(n_split),
        }
    # K negatives per (round, theorem): hard from siblings, medium from same-theorem, easy from the split
    cfg = m.contrastive
    k, hard, medium = cfg.k_negatives, round(cfg.k_negatives * cfg.hard_ratio), round(cfg.k_negatives * cfg.medium_ratio)
    rng = np.random.default_rng(cfg.seed)
    rows = []
    for split in ("train", "val"):
        n_split = neg[neg["split"] == split]
        all_hashes = n_split["state_pp"].to_numpy()
        if not len(all_hashes):
            continue
        pools = {key: g for key, g in n_split.groupby(["theorem_name", "sibling"])["state_pp"]}
        for theorem, group in sampled[sampled["split"] == split].groupby("theorem_name"):
            for rnd in range(cfg.rounds):
                anchor = group["state_pp"].iloc[rng.integers(len(group))]
                sib, other = pools.get((theorem, True)), pools.get((theorem, False))
                q_hard = hard if sib is not None else 0
                q_medium = (medium + hard - q_hard) if other is not None else 0
                picks = []
                if q_hard:
                    picks += list(rng.choice(sib.to_numpy(), q_hard))
                if q_medium:
                    picks += list(rng.choice(other.to_numpy(), q_medium))
                picks += list(rng.choice(all_hashes, k - len(picks)))
                rows.append({"split": split, "round": rnd + 1, "theorem_name": theorem,
                             "pos_state_hash": hashlib.md5(anchor.encode()).digest(),
                             "neg_state_hashes": [hashlib.md5(s.encode()).digest() for s in picks]})
    samples = pd.DataFrame(rows)
    for split in ("train", "val"):
        samples[samples["split"] == split].to_parquet(out / f"contrastive_{split}.parquet", index=False)

    # unique states
    states = rec.groupby("state_pp").agg(n_records=("label", "size"),
                                         n_positive=("label", lambda s: int((s == "positive").sum())))
    states["state_hash"] = [hashlib.md5(s.encode()).digest() for s in states.index]
    states.reset_index().to_parquet(out / "states.parquet", index=False)

    return {
        "files": {s: {"positive": int(r["positive"]), "total": int(totals[s]), "usable": int(r["usable"]),
                      "empty": int(r["empty"]), "sorry": int(r["sorry"]), "dup": int(r["dup"])}
                  for s, r in per_file.iterrows()},
        "sft": {"usable": int(c["usable"].sum()), "empty": int(c["is_empty"].sum()), "sorry": int(c["is_sorry"].sum()),
                "dup": int(c["is_dup"].sum()), "trajectory_train": int((pairs["split"] == "train").sum()),
                "trajectory_val": int((pairs["split"] == "val").sum()), "base_train": len(b_train),
                "base_val": len(b_val)},
        "contrastive": contrastive,
        "unique_states": len(states),
        "samples": len(samples),
    }


# --------------------------------------------------------------------------- baseline 2


def burnqed_loader(root: Path) -> dict:
    """BurnQED's ``load_trajectory_examples`` loop: iterrows over positives, a Python set."""
    import pyarrow.parquet as pq

    from prover_data.manifest import load_manifest

    records, seen = [], set()
    counts = {"empty": 0, "sorry": 0, "dup": 0}
    for path in load_manifest(MANIFEST, root).trajectory_paths():
        df = pq.read_table(path, columns=["state_pp", "tactic_applied", "label"]).to_pandas()
        positive = df[df["label"] == "positive"]
        for _, row in positive.iterrows():
            state = str(row["state_pp"]).strip()
            tactic = str(row["tactic_applied"]).strip()
            if not state or not tactic:
                counts["empty"] += 1
                continue
            if "sorry" in tactic:
                counts["sorry"] += 1
                continue
            if (state, tactic) in seen:
                counts["dup"] += 1
                continue
            seen.add((state, tactic))
            records.append({"text": f"Complete the following Lean 4 code:\n\n```lean4\n/- tactic state:\n{state}\n-/\n```\n"
                                    f"{tactic}", "theorem": "", "depth": 0})
    return {"usable": len(records), **counts}


def views_sft(root: Path) -> dict:
    """Baseline 2's work through the SQL views: SFT counts under BurnQED's own-state pairing."""
    from prover_data.manifest import load_manifest
    from prover_data.views import connect

    con = connect(load_manifest(MANIFEST, root), read_base_pairs=False)
    counts = dict(con.execute("SELECT status, count(*) FROM sft_classify('burnqed_compat') GROUP BY ALL").fetchall())
    return {"usable": counts.get("usable", 0), **{k: counts.get(k, 0) for k in ("empty", "sorry", "dup")}}


# --------------------------------------------------------------------------- checks and driver


def check_pandas(got: dict, stats: dict) -> list[str]:
    """Where the pandas pipeline's counts differ from the build's (empty: they agree)."""
    bad = []
    for f in stats["files"]:
        want = {k: f[k] for k in ("positive", "total", "usable", "empty", "sorry", "dup")}
        if got["files"].get(f["source"]) != want:
            bad.append(f"{f['source']}: pandas {got['files'].get(f['source'])} vs build {want}")
    for key, value in got["sft"].items():
        if stats["sft"][key] != value:
            bad.append(f"sft.{key}: pandas {value} vs build {stats['sft'][key]}")
    for split in ("train", "val"):
        for key, value in got["contrastive"][split].items():
            if stats["contrastive"][split][key] != value:
                bad.append(f"contrastive.{split}.{key}: pandas {value} vs build {stats['contrastive'][split][key]}")
    if got["unique_states"] != stats["embeddings"]["unique_states"]:
        bad.append(f"unique states: pandas {got['unique_states']} vs build {stats['embeddings']['unique_states']}")
    return bad


def measure(scale: float, work: Path, keep: bool, baselines: bool) -> dict:
    root = work / f"replica_{scale:g}"
    if not (keep and root.is_dir()):
        subprocess.run(CLI + ["synth", str(root), "--scale", str(scale), "--seed", "0", "--force", "--json"],
                       check=True, capture_output=True, cwd=REPO)
    build_root = work / f"build_{scale:g}"
    base = CLI + ["build-manifest", str(MANIFEST), "--data-root", str(root), "--build-dir", str(build_root)]
    cold_s, cold_rss, out = run_measured(base + ["--force", "--json"])
    stats = json.loads(out)["stats"]
    noop_s, noop_rss, out = run_measured(base + ["--json"])
    assert json.loads(out)["up_to_date"], "the second build was not a no-op"
    records = sum(f["total"] for f in stats["files"])
    result = {"scale": scale, "records": records,
              "cold_build": {"seconds": cold_s, "records_per_s": records / cold_s, "peak_rss": cold_rss},
              "noop_rebuild": {"seconds": noop_s, "peak_rss": noop_rss}}
    if not baselines:
        return result

    pandas_out = work / f"pandas_{scale:g}"
    pandas_out.mkdir(exist_ok=True)
    me = [sys.executable, __file__]
    p_s, p_rss, out = run_measured(me + ["--baseline", "pandas", "--root", str(root), "--out", str(pandas_out)])
    p_counts = json.loads(out)
    b_s, b_rss, out = run_measured(me + ["--baseline", "burnqed", "--root", str(root)])
    b_counts = json.loads(out)
    v_s, v_rss, out = run_measured(me + ["--baseline", "views-sft", "--root", str(root)])
    v_counts = json.loads(out)
    compat = stats["sft"]["pairing_agreement"]["usable_compat"]
    return {
        **result,
        "pandas": {"seconds": p_s, "records_per_s": records / p_s, "peak_rss": p_rss,
                   "disagreements": check_pandas(p_counts, stats)},
        "burnqed_loader": {"seconds": b_s, "records_per_s": records / b_s, "peak_rss": b_rss,
                           "usable": b_counts["usable"], "build_usable_compat": compat,
                           "agrees": b_counts["usable"] == compat},
        "views_sft": {"seconds": v_s, "records_per_s": records / v_s, "peak_rss": v_rss,
                      "agrees": v_counts == b_counts},
        "speedup_vs_pandas": p_s / cold_s,
        "sft_speedup_vs_burnqed_loader": b_s / v_s,
        "speedup_vs_burnqed_loader": b_s / cold_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0])
    ap.add_argument("--work", type=Path, default=None, help="where replicas and builds go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="reuse replicas already in --work")
    ap.add_argument("--baselines-up-to", type=float, default=1.0, metavar="SCALE",
                    help="run the baselines only up to this scale (pandas needs ~3 GiB per 650K records)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--baseline", choices=["pandas", "burnqed", "views-sft"], help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline == "pandas":
        print(json.dumps(pandas_pipeline(args.root, args.out)))
        return
    if args.baseline == "burnqed":
        print(json.dumps(burnqed_loader(args.root)))
        return
    if args.baseline == "views-sft":
        print(json.dumps(views_sft(args.root)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = [measure(s, work, args.keep, s <= args.baselines_up_to) for s in args.scales]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    from prover_data.console import print_table

    gib = 2 ** 30
    rows = []
    for r in results:
        for name, key in (("cold build (all outputs, report, lock)", "cold_build"), ("no-op rebuild", "noop_rebuild"),
                          ("baseline 1: pandas pipeline", "pandas"),
                          ("baseline 2: BurnQED loader (SFT only)", "burnqed_loader"),
                          ("views: SFT counts only (baseline 2's work)", "views_sft")):
            if key not in r:
                continue
            m = r[key]
            rows.append((f"{r['scale']:g}", f"{r['records']:,}", name, f"{m['seconds']:.2f}",
                         f"{m['records_per_s']:,.0f}" if "records_per_s" in m else "-", f"{m['peak_rss'] / gib:.2f}"))
    print_table("build-manifest iter_4", ["scale", "records", "run", "seconds", "records/s", "peak RSS GiB"], rows)
    for r in results:
        if "pandas" not in r:
            print(f"scale {r['scale']:g}: cold build {r['cold_build']['seconds']:.1f} s, no-op "
                  f"{r['noop_rebuild']['seconds']:.2f} s, peak RSS {r['cold_build']['peak_rss'] / gib:.2f} GiB "
                  "(target <= 4 GiB); baselines not run at this scale")
            continue
        print(f"scale {r['scale']:g}: cold build {r['speedup_vs_pandas']:.1f}x faster than pandas (target >= 2.5x), "
              f"{r['speedup_vs_burnqed_loader']:.1f}x faster than BurnQED's loader (target >= 5x); "
              f"the same SFT work through the views {r['sft_speedup_vs_burnqed_loader']:.1f}x faster than it; "
              f"no-op {r['noop_rebuild']['seconds']:.2f} s (target <= 0.5 s); "
              f"peak RSS {r['cold_build']['peak_rss'] / gib:.2f} GiB")
        bad = r["pandas"]["disagreements"]
        print(f"  pandas counts {'equal the build' if not bad else 'DIFFER: ' + '; '.join(bad)}; BurnQED loader "
              f"usable {r['burnqed_loader']['usable']:,} {'=' if r['burnqed_loader']['agrees'] else '!='} build's "
              f"own-state pairing {r['burnqed_loader']['build_usable_compat']:,}; views' SFT counts "
              f"{'equal' if r['views_sft']['agrees'] else 'DIFFER from'} the loader's")
    if len(results) > 1:
        a, b = results[0], results[-1]
        per = [r["cold_build"]["seconds"] / r["records"] for r in (a, b)]
        print(f"scale {a['scale']:g} -> {b['scale']:g}: {b['records'] / a['records']:.1f}x the records, "
              f"{b['cold_build']['seconds'] / a['cold_build']['seconds']:.1f}x the time "
              f"({per[1] / per[0]:.2f}x the time per record)")


if __name__ == "__main__":
    main()
