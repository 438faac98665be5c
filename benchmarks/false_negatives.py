"""False negatives in contrastive samples: what they cost an EBM, and what excluding them costs a build.

    python benchmarks/false_negatives.py [--data-root DIR | --scale 1] [--before CHECKOUT] [--steps 1500]
                                         [--dim 256] [--repeat 3] [--json]

Without ``--data-root`` it writes a replica first (``prover-data synth --scale S --seed 0``).

1. **Build time.** ``prover-data build-manifest iter_4`` (cold, ``--force``, a fresh
   process each) under ``[contrastive] false_negatives = "keep"`` and ``"exclude"``,
   alternated ``--repeat`` times, best of each; with ``--before DIR`` (a checkout of the
   code before false negatives were handled, run with the same interpreter) that build
   too, as the baseline of the change.
2. **Val rank.** Vectors with a learnable signal: every state of the build gets noise,
   and the states that are a ``positive`` record somewhere (provable) are shifted
   ``--shift`` noise deviations along one direction, so provability is separable. An
   energy head (``prover_models.ebm.train``) is trained on each build's samples for
   ``--steps`` and its val rank (share of val samples whose positive has the lowest
   energy) read off its log, and each head is also scored on the other build's val set.
   Under ``keep`` a sample holding a provable state as a negative cannot be ranked right
   by any head that has learnt provability: the labels cap the rank.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def manifest_for(policy: str, work: Path) -> Path:
    text = (REPO / "manifests" / "iter_4.toml").read_text(encoding="utf-8")
    text = text.replace('false_negatives = "exclude"', f'false_negatives = "{policy}"')
    text = text.replace('name = "iter_4"', f'name = "iter_4_{policy}"')
    path = work / f"iter_4_{policy}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def timed_build(manifest: Path, data_root: Path, build_dir: Path, code: Path = REPO) -> tuple[float, float]:
    """(seconds, peak RSS GiB) of one cold build in a fresh process running ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "prover_data", "build-manifest", str(manifest), "--data-root",
                             str(data_root), "--build-dir", str(build_dir), "--force", "--json"],
                            env=env, cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, _, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    if proc.returncode not in (0, None) or usage is None:
        raise RuntimeError(proc.stderr.read().decode())
    return seconds, usage.ru_maxrss / 2**20


def signal_vectors(states_path: Path, dim: int, shift: float, seed: int = 0):
    """(hashes, float32 vectors): noise, plus ``shift`` along one direction for provable states."""
    import pyarrow.parquet as pq

    from prover_data.embeddings.store.keys import key_matrix

    states = pq.read_table(states_path, columns=["state_hash", "n_positive"])
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(dim)
    direction /= np.linalg.norm(direction)
    x = rng.standard_normal((states.num_rows, dim)).astype(np.float32)
    x[states.column("n_positive").to_numpy() > 0] += (shift * direction).astype(np.float32)
    return key_matrix(states.column("state_hash")), x


def train_head(build: Path, dense, steps: int, out: Path):
    from prover_data.manifest import EBMTrainer
    from prover_models import ebm
    from prover_models.data import ContrastiveSamples

    cfg = replace(EBMTrainer(), hidden_dims=(256, 128), learning_rate=1e-3, warmup_steps=max(1, steps // 20),
                  steps=steps, log_every=max(1, steps // 5), eval_every=max(1, steps // 5), val_batches=10_000,
                  depth_loss_weight=0.0)
    train = ContrastiveSamples(build / "contrastive_train.parquet", dense, k=7)
    val = ContrastiveSamples(build / "contrastive_val.parquet", dense, k=7)
    t = time.perf_counter()
    summary = ebm.train(cfg, train, val, out)
    return cfg, summary, time.perf_counter() - t


def val_rank(head_dir: Path, build: Path, dense, cfg) -> float:
    import torch

    from prover_models import ebm
    from prover_models.data import ContrastiveSamples

    head = ebm.load_energy_head(head_dir / "last.pt")
    val = ContrastiveSamples(build / "contrastive_val.parquet", dense, k=7)
    with torch.no_grad():
        return ebm.evaluate(head, val, np.arange(len(val)), cfg.batch_size, 0.0, torch.device("cpu"))["rank"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", type=Path, default=None, help="a replica (prover-data synth) or real inputs")
    ap.add_argument("--scale", type=float, default=1.0, help="the replica's scale when no --data-root is given")
    ap.add_argument("--before", type=Path, default=None, help="checkout of the code before this change")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--shift", type=float, default=4.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from prover_data.embeddings import DenseEmbeddings, EncoderSpec, Store, export_dense

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.data_root is None:
            from prover_data.synth import generate

            args.data_root = work / "replica"
            generate(args.data_root, scale=args.scale, seed=0)
        runs = {"keep": [], "exclude": []}
        if args.before is not None:
            runs["before"] = []
        for _ in range(args.repeat):
            for policy in runs:
                manifest = manifest_for("exclude" if policy == "before" else policy, work)
                code = args.before if policy == "before" else REPO
                if policy == "before":
                    manifest = args.before / "manifests" / "iter_4.toml"
                runs[policy].append(timed_build(manifest, args.data_root, work / policy, code))
        builds = {p: work / p / f"iter_4_{p}" for p in ("keep", "exclude")}
        stats = {p: json.loads((b / "stats.json").read_text())["contrastive"] for p, b in builds.items()}

        keys, x = signal_vectors(builds["exclude"] / "states.parquet", args.dim, args.shift)
        spec = EncoderSpec(model="bench/signal", max_length=2048)
        Store.open(work / "store", create=True).write(keys, x, encoder=spec, dtype="float32", tag="signal")
        dense = DenseEmbeddings.open(export_dense(work / "store", "signal", work / "dense"))
        heads = {}
        for policy, build in builds.items():
            cfg, summary, seconds = train_head(build, dense, args.steps, work / f"head_{policy}")
            heads[policy] = {"final_val_rank": summary.log[-1]["val_rank"], "best_val_rank":
                             max(r["val_rank"] for r in summary.log if "val_rank" in r), "train_s": seconds}
        for policy in builds:
            other = "exclude" if policy == "keep" else "keep"
            heads[policy][f"val_rank_on_{other}_val"] = val_rank(work / f"head_{policy}", builds[other], dense, cfg)

    best = {p: min(r[0] for r in rs) for p, rs in runs.items()}
    figures = {
        "build_s": best, "build_peak_rss_gib": {p: max(r[1] for r in rs) for p, rs in runs.items()},
        "exclude_vs_keep": best["exclude"] / best["keep"],
        "exclude_vs_before": best["exclude"] / best["before"] if "before" in best else None,
        "false_negatives": {p: {s: {k: stats[p][s][k] for k in ("false_negative_records", "false_negative_states",
                                                                  "drawn_false_negatives", "samples_with_false_negative",
                                                                  "own_positive_samples_keep")}
                                for s in ("train", "val")} for p in stats},
        "val_samples": {p: stats[p]["samples"]["val"]["rows"] for p in stats},
        "heads": heads, "steps": args.steps, "dim": args.dim, "shift": args.shift,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print("| build | seconds (best of %d) | peak RSS GiB |" % args.repeat)
    print("|---|---:|---:|")
    for p in runs:
        print(f"| {p} | {best[p]:.2f} | {figures['build_peak_rss_gib'][p]:.2f} |")
    line = f"exclude / keep: {figures['exclude_vs_keep']:.3f}"
    if figures["exclude_vs_before"]:
        line += f"; exclude / before: {figures['exclude_vs_before']:.3f}"
    print(line)
    print()
    print("| samples from | val samples | val samples holding a false negative | final val rank | best val rank "
          "| val rank on the other build's val |")
    print("|---|---:|---:|---:|---:|---:|")
    for p in ("keep", "exclude"):
        h = heads[p]
        other = next(v for k, v in h.items() if k.startswith("val_rank_on_"))
        print(f"| {p} | {figures['val_samples'][p]:,} | {stats[p]['val']['samples_with_false_negative']:,} | "
              f"{h['final_val_rank']:.4f} | {h['best_val_rank']:.4f} | {other:.4f} |")


if __name__ == "__main__":
    main()
