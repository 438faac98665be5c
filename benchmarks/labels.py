"""Labels from the search trees: what ``[labels] source = "tree"`` costs a build, and what file labels cost an EBM.

    python benchmarks/labels.py [--data-root DIR | --scale 1] [--proofs-per-search 3] [--single-root DIR]
                                [--no-single] [--before CHECKOUT] [--repeat 3] [--steps 1500] [--dim 256] [--json]

Without ``--data-root`` it writes a multi-proof replica first (``prover-data synth
--scale S --seed 0 --proofs-per-search P``: every proved search goes on after its first
proof, labelled as BurnQED labels it, only the first proof's path positive), and,
unless ``--no-single`` or given ``--single-root``, the default single-proof replica
(``--proofs-per-search 1``, as BurnQED wrote before it replayed every proof).

1. **Build time.** ``prover-data build-manifest iter_4`` (cold, ``--force``, a fresh
   process each) under ``[labels] source = "tree"`` and ``"file"``, on each replica,
   alternated ``--repeat`` times (the order reversed every other round), best of each;
   with ``--before DIR`` (a checkout of the code before labels came from the trees, run
   with the same interpreter, its own ``manifests/iter_4.toml``) that build too. Under
   either source the build walks the trees (the report's Labels part reads ``provable``),
   so ``tree / file`` is what the tree labels cost downstream and ``tree / before`` what
   the walk costs as well. Each build's CPU seconds (user + system, every thread) are
   kept too, the least of each: on a shared machine they move less than wall time.
2. **Provable negatives.** From each build's ``stats.json`` (``labels``, the views of
   ``sql/stats/49_label_stats.sql``): drawn negatives whose state some node proves, over all
   drawn negatives; the samples holding one; SFT pairs only the tree labels give, over
   the tree's. The drawn ones are also counted by tier straight off the file build's
   ``contrastive_*.parquet`` against the states the tree build labels positive (with
   ``false_negatives = "exclude"`` a drawn state is never file-positive, so the two
   counts agree).
3. **Val rank.** Vectors with a learnable signal: every state gets noise, and the
   states the tree labels positive somewhere (``n_positive`` of the tree build's
   ``states.parquet``, i.e. ``label = 'positive'`` in its ``trajectories`` view: a
   provable node, or a file-positive one) are shifted ``--shift`` noise deviations along
   one direction. An energy head is trained on each build's samples of the multi-proof
   replica for ``--steps`` (``benchmarks/false_negatives.py``'s head and settings), and
   each head is also scored on the other build's val set. Under ``"file"`` a sample
   holding a provable state as a negative cannot be ranked right by a head that has
   learnt provability.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.build_manifest import run_measured  # noqa: E402
from benchmarks.false_negatives import signal_vectors, train_head, val_rank  # noqa: E402

SOURCES = ("tree", "file")
LABEL_FIGURES = ("drawn_provable_negatives", "samples_with_provable_negative", "samples", "sft_pairs_tree",
                 "sft_pairs_file", "sft_pairs_only_tree", "sft_pairs_only_file", "proofs_per_search")


def manifest_for(source: str, work: Path) -> Path:
    """iter_4 with ``[labels] source`` set, under a name of its own (its own build directory)."""
    text = (REPO / "manifests" / "iter_4.toml").read_text(encoding="utf-8")
    if text.count('source = "tree"') != 1 or text.count('name = "iter_4"') != 1:
        raise RuntimeError('manifests/iter_4.toml no longer holds one `source = "tree"` and one `name = "iter_4"`')
    text = text.replace('source = "tree"', f'source = "{source}"').replace('name = "iter_4"',
                                                                         f'name = "iter_4_{source}"')
    path = work / f"iter_4_{source}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def timed_build(manifest: Path, data_root: Path, build_dir: Path, code: Path) -> dict:
    """One cold build in a fresh process running ``code`` (``-P``: not the working directory's copy)."""
    cmd = ["env", f"PYTHONPATH={code}", sys.executable, "-P", "-m", "prover_data", "build-manifest", str(manifest),
           "--data-root", str(data_root), "--build-dir", str(build_dir), "--force", "--json"]
    return run_measured(cmd)


def time_builds(data_root: Path, work: Path, repeat: int, before: Path | None) -> dict[str, list[dict]]:
    """{variant: [run_measured's figures, ...]}: cold builds alternated, the order reversed every other round."""
    variants = [*SOURCES, *(["before"] if before is not None else [])]
    manifests = {s: manifest_for(s, work) for s in SOURCES}
    runs: dict[str, list] = {v: [] for v in variants}
    for i in range(repeat):
        for v in (variants if i % 2 == 0 else variants[::-1]):
            if v == "before":
                runs[v].append(timed_build(before / "manifests" / "iter_4.toml", data_root, work / v, before))
            else:
                runs[v].append(timed_build(manifests[v], data_root, work / v, REPO))
    return runs


def provable_draws(build: Path, tree_build: Path) -> dict:
    """``build``'s drawn negatives by tier, those whose state the tree labels positive, and per split the
    samples holding one: straight off the parquet outputs, beside the views' own count."""
    import duckdb

    splits = [str(build / f"contrastive_{s}.parquet") for s in ("train", "val")]
    con = duckdb.connect()
    con.execute(f"""
        CREATE TEMP TABLE neg AS
        SELECT regexp_extract(filename, 'contrastive_(\\w+)\\.parquet', 1) AS split, sample_id,
               unnest(neg_state_hashes) AS state_hash, unnest(neg_tiers) AS tier
        FROM read_parquet({splits!r}, filename = true);
        CREATE TEMP TABLE hit AS
        SELECT neg.*, state_hash IN (SELECT state_hash FROM read_parquet('{tree_build / "states.parquet"}')
                                     WHERE n_positive > 0) AS provable
        FROM neg""")
    tiers = con.execute("SELECT tier, count(*), count(*) FILTER (WHERE provable) FROM hit GROUP BY ALL ORDER BY 1")
    by_tier = {t: {"drawn": d, "provable": p} for t, d, p in tiers.fetchall()}
    held = con.execute("SELECT split, count(DISTINCT sample_id) FILTER (WHERE provable) FROM hit GROUP BY ALL")
    return {"by_tier": by_tier, "samples_with_provable": dict(held.fetchall())}


def label_figures(build: Path) -> dict:
    """The build's Labels part, with the shares this benchmark reports."""
    stats = json.loads((build / "stats.json").read_text(encoding="utf-8"))
    lab = stats["labels"]
    drawn = sum(sum(s["tiers"].values()) for s in stats["contrastive"]["samples"].values())
    out = {k: lab[k] for k in LABEL_FIGURES}
    out.update({
        "relabelled_nodes": lab["totals"].get("relabelled_nodes", 0),
        "completed_nodes": lab["totals"].get("completed_nodes", 0),
        "drawn_negatives": drawn,
        "provable_negative_share": lab["drawn_provable_negatives"] / drawn if drawn else 0.0,
        "sample_share": lab["samples_with_provable_negative"] / lab["samples"] if lab["samples"] else 0.0,
        "sft_pairs_lost_under_file":
            lab["sft_pairs_only_tree"] / lab["sft_pairs_tree"] if lab["sft_pairs_tree"] else 0.0,
        "sft_trajectory_pairs": {s: stats["sft"][f"trajectory_{s}"] for s in ("train", "val")},
        "val_samples": stats["contrastive"]["samples"]["val"]["rows"],
    })
    return out


def replica_figures(data_root: Path, work: Path, repeat: int, before: Path | None) -> dict:
    """Build times and label figures of one replica, both sources."""
    work.mkdir(parents=True, exist_ok=True)
    runs = time_builds(data_root, work, repeat, before)
    best = {v: min(r["seconds"] for r in rs) for v, rs in runs.items()}
    cpu = {v: min(r["cpu_seconds"] for r in rs) for v, rs in runs.items()}
    builds = {s: work / s / f"iter_4_{s}" for s in SOURCES}
    out = {
        "data_root": str(data_root),
        "build_s": best, "build_cpu_s": cpu,
        "build_runs_s": {v: [round(r["seconds"], 2) for r in rs] for v, rs in runs.items()},
        "build_peak_rss_gib": {v: max(r["peak_rss"] for r in rs) / 2**30 for v, rs in runs.items()},
        "tree_vs_file": best["tree"] / best["file"], "tree_vs_file_cpu": cpu["tree"] / cpu["file"],
        "tree_vs_before": best["tree"] / best["before"] if "before" in best else None,
        "tree_vs_before_cpu": cpu["tree"] / cpu["before"] if "before" in cpu else None,
        "labels": {s: label_figures(b) for s, b in builds.items()},
        "draws": {s: provable_draws(b, builds["tree"]) for s, b in builds.items()},
    }
    return out


def heads_figures(builds: dict[str, Path], work: Path, steps: int, dim: int, shift: float) -> dict:
    """An energy head trained on each build's samples, scored on its own and the other's val set."""
    from prover_data.embeddings import DenseEmbeddings, EncoderSpec, Store, export_dense

    keys, x = signal_vectors(builds["tree"] / "states.parquet", dim, shift)
    spec = EncoderSpec(model="bench/signal", max_length=2048)
    Store.open(work / "store", create=True).write(keys, x, encoder=spec, dtype="float32", tag="signal")
    dense = DenseEmbeddings.open(export_dense(work / "store", "signal", work / "dense"))
    heads, cfg = {}, None
    for source, build in builds.items():
        cfg, summary, seconds = train_head(build, dense, steps, work / f"head_{source}")
        ranks = [r["val_rank"] for r in summary.log if "val_rank" in r]
        heads[source] = {"final_val_rank": ranks[-1], "best_val_rank": max(ranks), "train_s": seconds}
    for source in builds:
        other = "file" if source == "tree" else "tree"
        heads[source]["val_rank_on_other_val"] = val_rank(work / f"head_{source}", builds[other], dense, cfg)
    return heads


def print_tables(figures: dict, repeat: int) -> None:
    print(f"| replica | build | seconds (best of {repeat}) | CPU seconds (least) | runs | peak RSS GiB |")
    print("|---|---|---:|---:|---|---:|")
    for name, rep in figures["replicas"].items():
        for v, s in rep["build_s"].items():
            runs = ", ".join(f"{t:.1f}" for t in rep["build_runs_s"][v])
            print(f"| {name} | {v} | {s:.2f} | {rep['build_cpu_s'][v]:.2f} | {runs} "
                  f"| {rep['build_peak_rss_gib'][v]:.2f} |")
    for name, rep in figures["replicas"].items():
        line = f"{name}: tree / file {rep['tree_vs_file']:.3f} (CPU {rep['tree_vs_file_cpu']:.3f})"
        if rep["tree_vs_before"] is not None:
            line += f"; tree / before {rep['tree_vs_before']:.3f} (CPU {rep['tree_vs_before_cpu']:.3f})"
        print(line)
    print()
    print("| replica | source | drawn negatives | provable | share | samples holding one | of samples "
          "| SFT pairs (tree) | only under tree | lost under file |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rep in figures["replicas"].items():
        for s, f in rep["labels"].items():
            print(f"| {name} | {s} | {f['drawn_negatives']:,} | {f['drawn_provable_negatives']:,} | "
                  f"{f['provable_negative_share']:.2%} | {f['samples_with_provable_negative']:,} "
                  f"| {f['sample_share']:.2%} "
                  f"| {f['sft_pairs_tree']:,} | {f['sft_pairs_only_tree']:,} | {f['sft_pairs_lost_under_file']:.2%} |")
    for name, rep in figures["replicas"].items():
        for s, d in rep["draws"].items():
            tiers = ", ".join(f"{t} {c['provable']:,}/{c['drawn']:,}" for t, c in d["by_tier"].items())
            print(f"{name}, {s} build, drawn negatives the tree labels positive / drawn, by tier: {tiers}")
        print(f"{name}: proofs per proved search {rep['labels']['tree']['proofs_per_search']}")
    if figures["heads"] is None:
        return
    print()
    print("| samples from | val samples | val samples holding a provable negative | final val rank | best val rank "
          "| val rank on the other build's val |")
    print("|---|---:|---:|---:|---:|---:|")
    multi = figures["replicas"]["multi"]
    for s, h in figures["heads"].items():
        held = multi["draws"][s]["samples_with_provable"].get("val", 0)
        print(f"| {s} | {multi['labels'][s]['val_samples']:,} | {held:,} | {h['final_val_rank']:.4f} "
              f"| {h['best_val_rank']:.4f} | {h['val_rank_on_other_val']:.4f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", type=Path, default=None, help="a multi-proof replica or real inputs")
    ap.add_argument("--single-root", type=Path, default=None, help="a single-proof replica to time as well")
    ap.add_argument("--no-single", action="store_true", help="without --single-root, skip the single-proof replica")
    ap.add_argument("--scale", type=float, default=1.0, help="the replicas' scale when they are written here")
    ap.add_argument("--proofs-per-search", type=int, default=3, help="the multi-proof replica's proofs per search")
    ap.add_argument("--before", type=Path, default=None, help="checkout of the code before tree labels")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1500, help="the energy heads' steps; 0 times the builds only")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--shift", type=float, default=4.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        roots = {"multi": args.data_root, "single": args.single_root}
        if roots["single"] is None and (args.no_single or args.data_root is not None):
            del roots["single"]
        for name, root in roots.items():
            if root is None:
                from prover_data.synth import generate

                roots[name] = work / f"replica_{name}"
                generate(roots[name], scale=args.scale, seed=0,
                         proofs_per_search=args.proofs_per_search if name == "multi" else 1)
        replicas = {name: replica_figures(root, work / name, args.repeat, args.before) for name, root in roots.items()}
        heads = heads_figures({s: work / "multi" / s / f"iter_4_{s}" for s in SOURCES}, work, args.steps, args.dim,
                              args.shift) if args.steps else None
    figures = {"replicas": replicas, "heads": heads, "scale": args.scale, "proofs_per_search": args.proofs_per_search,
               "repeat": args.repeat, "steps": args.steps, "dim": args.dim, "shift": args.shift,
               "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_tables(figures, args.repeat)


if __name__ == "__main__":
    main()
