"""EBM trainer throughput at the report's shape, and the share of a step spent gathering.

    python benchmarks/ebm.py [--states 32768] [--dim 4096] [--batch 256] [--k 7] [--steps 6] [--device cpu] [--json]

Writes N random float16 states (dim 4096) to a real embedding store, exports them
dense (memory-mapped, as ``prover-data embeddings export`` does) and writes a
contrastive table of samples over them. Then runs the training step of
``prover_models.ebm.train`` (gather, forward, InfoNCE + depth loss, backward, clip,
AdamW) with two ways of building each batch of 256 x (1 + 7) vectors:

* vectorized -- ``prover_models.data.contrastive_loader``: state hashes turned into
  matrix rows once at load, then one fancy-indexing copy per batch out of the memory
  map in the stored float16, widened to float32 on the training device
  (``prover_models.data.widen``);
* baseline -- BurnQED's embedding cache: a dict from state to a float32 vector, one
  Python lookup per state, stacked into the batch.

Prints ms per step, the part of it spent building the batch, steps/s for each, their
ratio, and peak RSS. The report's run took ~10 minutes for 20,000 steps on CUDA.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_data(work: Path, n_states: int, dim: int, n_samples: int, k: int, seed: int = 0):
    """A store of ``n_states`` fp16 vectors, its dense export, and ``n_samples`` contrastive rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from prover_data.embeddings import DenseEmbeddings, EncoderSpec, Store, export_dense
    from prover_data.identity import state_hash
    from prover_data.schema import CONTRASTIVE

    rng = np.random.default_rng(seed)
    hashes = [state_hash(f"⊢ state {i}") for i in range(n_states)]
    store = Store.open(work / "store", create=True)
    spec = EncoderSpec(model="bench/encoder", max_length=2048)
    with store.writer(spec, "float16", expected_dim=dim) as w:
        for start in range(0, n_states, 8192):  # write in chunks: bounded memory
            stop = min(start + 8192, n_states)
            w.add(hashes[start:stop], (0.2 * rng.standard_normal((stop - start, dim))).astype(np.float32))
        w.commit("benchmark", tag="bench")
    dense = DenseEmbeddings.open(export_dense(work / "store", "bench", work / "dense"))

    pos = rng.integers(n_states, size=n_samples)
    neg = rng.integers(n_states, size=(n_samples, k))
    table = pa.table({
        "sample_id": pa.array(np.arange(n_samples), pa.int64()),
        "round": pa.array(np.ones(n_samples, np.int32)),
        "theorem_name": pa.array([f"thm_{i}" for i in range(n_samples)]),
        "source": pa.array(["iter_1"] * n_samples),
        "pos_state_hash": pa.array([hashes[i] for i in pos], pa.binary(16)),
        "pos_remaining_depth": pa.array(rng.integers(-1, 8, size=n_samples).astype(np.int32)),
        "neg_state_hashes": pa.array([[hashes[j] for j in row] for row in neg], pa.list_(pa.binary(16))),
        "neg_tiers": pa.array([["hard", "hard", "medium", "medium", "medium", "easy", "easy"][:k]] * n_samples),
    }, schema=CONTRASTIVE)
    pq.write_table(table, work / "contrastive_train.parquet")
    return dense, work / "contrastive_train.parquet"


class DictCache:
    """BurnQED's embedding cache: state -> float32 vector, looked up one state at a time."""

    def __init__(self, dense, path: Path, k: int):
        import pyarrow.parquet as pq

        table = pq.read_table(path).sort_by("sample_id")
        self.pos = table.column("pos_state_hash").to_pylist()
        self.neg = table.column("neg_state_hashes").to_pylist()
        self.depth = table.column("pos_remaining_depth").to_pylist()
        keys = np.asarray(dense.hashes)
        vectors = dense.gather(np.arange(len(dense)))
        self.cache = {keys[i].tobytes(): vectors[i] for i in range(len(dense))}
        self.k = k

    def batch(self, idx: np.ndarray) -> dict:
        import torch

        pos = [self.cache[self.pos[i]] for i in idx]
        neg = [self.cache[h] for i in idx for h in self.neg[i]]
        return {"pos": torch.from_numpy(np.stack(pos)),
                "neg": torch.from_numpy(np.stack(neg)).view(len(idx), self.k, -1),
                "depth": torch.tensor([self.depth[i] for i in idx])}


def run_steps(batches, n_steps: int, dim: int, device: str) -> tuple[list[float], list[float]]:
    """(batch-building seconds, whole-step seconds) per step, for ``n_steps`` after one warm-up step."""
    import torch

    from prover_data.manifest import EBMTrainer
    from prover_models import ebm
    from prover_models.data import widen

    cfg = EBMTrainer()
    torch.manual_seed(0)
    model = ebm.EnergyHead(ebm.EnergyHeadConfig.from_trainer(cfg, dim)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay, eps=1e-5)
    gather_s, step_s = [], []
    it = iter(batches)
    for step in range(n_steps + 1):
        t0 = time.perf_counter()
        batch = widen(next(it), torch.device(device))
        t1 = time.perf_counter()
        loss, metrics = ebm.step_loss(model, batch["pos"], batch["neg"], batch["depth"], cfg.depth_loss_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
        metrics.sum().item()  # wait for the device, as the train loop does at log steps
        t2 = time.perf_counter()
        if step:  # step 0 warms up allocators and kernels
            gather_s.append(t1 - t0)
            step_s.append(t2 - t0)
    return gather_s, step_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--states", type=int, default=32768, help="distinct states in the export")
    ap.add_argument("--samples", type=int, default=16384, help="contrastive samples")
    ap.add_argument("--dim", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--k", type=int, default=7)
    ap.add_argument("--steps", type=int, default=6, help="timed steps per variant")
    ap.add_argument("--gathers", type=int, default=50, help="batches timed for the gather-only figures")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import torch

    from prover_models.data import ContrastiveSamples, batch_indices, contrastive_loader

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        dense, path = make_data(work, args.states, args.dim, args.samples, args.k)
        setup_s = time.perf_counter() - t
        t = time.perf_counter()
        data = ContrastiveSamples(path, dense, k=args.k)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        cache = DictCache(dense, path, args.k)
        cache_s = time.perf_counter() - t
        n = len(data)

        def vectorized(start: int):
            return iter(contrastive_loader(data, args.batch, 0, start, start + 10**6, pin_memory=args.device != "cpu"))

        def baseline(start: int):
            return (cache.batch(batch_indices(n, args.batch, 0, s)) for s in range(start, start + 10**6))

        gather_only = {}
        for name, make in (("vectorized", vectorized), ("baseline", baseline)):
            it = make(10_000)
            next(it)
            t = time.perf_counter()
            for _ in range(args.gathers):
                next(it)
            gather_only[name] = (time.perf_counter() - t) / args.gathers

        timed = {}
        for name, make in (("vectorized", vectorized), ("baseline", baseline)):
            g, s = run_steps(make(0), args.steps, args.dim, args.device)
            timed[name] = {"gather_ms": 1e3 * float(np.mean(g)), "step_ms": 1e3 * float(np.mean(s)),
                           "steps_per_s": 1.0 / float(np.mean(s)), "gather_share": float(np.sum(g) / np.sum(s))}

    values = args.batch * (1 + args.k) * args.dim
    batch_bytes = {"vectorized": values * 2, "baseline": values * 4}  # stored fp16 vs the cache's float32
    figures = {
        "device": args.device if args.device != "cpu" else f"cpu ({torch.get_num_threads()} threads)",
        "shape": {"states": args.states, "samples": args.samples, "dim": args.dim, "batch": args.batch, "k": args.k},
        "setup_s": {"store_and_export": setup_s, "dataset_load": load_s, "dict_cache_build": cache_s},
        "gather_only_ms": {k: 1e3 * v for k, v in gather_only.items()},
        "gather_only_gb_per_s": {k: batch_bytes[k] / v / 1e9 for k, v in gather_only.items()},
        "gather_speedup": gather_only["baseline"] / gather_only["vectorized"],
        "steps": timed,
        "step_speedup": timed["baseline"]["step_ms"] / timed["vectorized"]["step_ms"],
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"EBM step at dim {args.dim}, batch {args.batch}, K {args.k} on {figures['device']} "
          f"({args.states:,} fp16 states, {args.samples:,} samples)")
    print("| batch building | gather ms (alone) | GB/s (fp16 / float32 out) | step ms | of which gather + widen | "
          "gather share | steps/s |")
    print("|---|---|---|---|---|---|---|")
    for name in ("vectorized", "baseline"):
        s = timed[name]
        print(f"| {name} | {figures['gather_only_ms'][name]:.1f} | {figures['gather_only_gb_per_s'][name]:.2f} | "
              f"{s['step_ms']:.0f} | {s['gather_ms']:.1f} | {100 * s['gather_share']:.1f}% | {s['steps_per_s']:.3f} |")
    print(f"gather: vectorized is {figures['gather_speedup']:.1f}x the baseline; whole step "
          f"{figures['step_speedup']:.2f}x; peak RSS {figures['peak_rss_gib']:.2f} GiB; setup "
          f"{setup_s:.1f} s (store + export), dataset load {load_s:.2f} s, dict cache build {cache_s:.2f} s")


if __name__ == "__main__":
    main()
