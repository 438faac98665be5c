"""The contrastive sampler's embedding tier at the report's scale: search time, build cost.

    python benchmarks/embedding_tier.py [--scale 1.0] [--dim 1024] [--latent 64] [--pool 16]
                                        [--data-root DIR] [--skip-exact] [--json]

A replica (``prover-data synth``, seed 0) is built with iter_4's manifest, its states
given seeded random fp16 vectors in a fresh store, and the tier turned on
(``embedding_ratio = 0.3``). The vectors have a low intrinsic dimension, as encoder
embeddings do: a ``--latent``-dimensional Gaussian (64) through a fixed random
projection, plus 10% isotropic noise. Their neighbours mean nothing, but finding them
costs what it would on real vectors; ``--latent 0`` gives i.i.d. Gaussian vectors, the
worst case for a graph index (every point nearly equidistant). Measured:

1. **search** -- ``negative_tier.neighbours`` for both splits (every anchor positive of
   ``contrastive_anchors`` against every negative state of its split): the exact faiss
   index (flat) and the approximate one (HNSW, M = 32, efSearch = 128, graph built on
   one thread so it is reproducible). Baseline in the same run: the straightforward
   NumPy search, chunked ``anchors @ pool.T`` and ``argpartition`` on float32 unit
   vectors, whose top-k sets the flat index must equal. HNSW recall is the share of
   its neighbours that are in the exact top-k.
2. **build** -- ``build-manifest`` of the same manifest with the tier off and on (the
   default exact index), cold, each in a fresh build directory.

Peak RSS per part as in ``benchmarks/embeddings.py``. The default dim is 1024, not the
report's 4096: exact search time grows linearly with dim, and the 2-core machine takes
minutes per pass at 1024 already; the output names the dim used.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.embeddings import Peak, part  # noqa: E402
from prover_data.build.stages import build  # noqa: E402
from prover_data.embeddings import negative_tier  # noqa: E402
from prover_data.embeddings.fingerprint import spec_from_manifest  # noqa: E402
from prover_data.embeddings.store import Store  # noqa: E402
from prover_data.embeddings.store.keys import key_matrix  # noqa: E402
from prover_data.manifest import load_manifest  # noqa: E402
from prover_data.views import connect  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CHUNK = 8192


def tier_manifest(work: Path, root: Path, dim: int, pool: int, index: str, ratio: float) -> Path:
    """iter_4.toml with the data root, a store under ``work`` and the tier settings."""
    text = (REPO / "manifests" / "iter_4.toml").read_text(encoding="utf-8")
    text = text.replace('store = "embeddings/store"', f'store = "{(work / "store").as_posix()}"')
    text = text.replace("dim = 4096", f"dim = {dim}")
    text = text.replace("hard_ratio = 0.3\nmedium_ratio = 0.4\neasy_ratio = 0.3\n",
                        f"hard_ratio = 0.3\nmedium_ratio = {0.4 - ratio / 2}\neasy_ratio = {0.3 - ratio / 2}\n"
                        f"embedding_ratio = {ratio}\nembedding_pool = {pool}\nembedding_index = \"{index}\"\n")
    path = work / f"iter_4_{index}_{int(ratio * 100)}.toml"
    path.write_text(f'data_root = "{root.as_posix()}"\n' + text, encoding="utf-8")
    return path


def fill_store(manifest, dim: int, latent: int, seed: int) -> int:
    con = connect(manifest, read_base_pairs=False, embedding_tier=False)
    keys = key_matrix(con.sql("SELECT state_hash FROM states ORDER BY state_hash").to_arrow_table().column(0))
    store = Store.open(manifest.resolve(manifest.embeddings.store), create=True)
    spec = spec_from_manifest(manifest.embeddings, cache_file=store.weights_cache)
    rng = np.random.default_rng(seed)
    projection = rng.standard_normal((latent, dim), dtype=np.float32) / np.sqrt(max(latent, 1))
    with store.writer(spec, "float16", expected_dim=dim) as w:
        for start in range(0, len(keys), CHUNK):
            block = keys[start:start + CHUNK]
            noise = rng.standard_normal((len(block), dim), dtype=np.float32)
            if latent:
                v = rng.standard_normal((len(block), latent), dtype=np.float32) @ projection + 0.1 * noise
            else:
                v = noise
            w.add(block, v.astype(np.float16), raw=True)
        w.commit("benchmark vectors", tag=manifest.embeddings.tag)
    return len(keys)


def numpy_search(space, anchors: np.ndarray, pool: np.ndarray, k: int) -> list[set[bytes]]:
    """Top-k pool hashes per anchor by cosine, the anchor itself excluded: plain NumPy."""
    def unit(keys):
        v = space.gather(space.rows(keys)).astype(np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    p = unit(pool)
    pool_bytes = [bytes(h) for h in pool]
    out = []
    for start in range(0, len(anchors), 2048):
        a_keys = anchors[start:start + 2048]
        sims = unit(a_keys) @ p.T
        for i, key in enumerate(a_keys):
            row = sims[i]
            top = np.argpartition(-row, min(k + 1, len(row) - 1))[:k + 1]
            top = top[np.argsort(-row[top], kind="stable")]
            out.append(set([pool_bytes[j] for j in top if pool_bytes[j] != bytes(key)][:k]))
    return out


def neighbour_sets(table, split: str) -> dict[bytes, set[bytes]]:
    out: dict[bytes, set[bytes]] = {}
    cols = table.filter(table.column("split").to_numpy(zero_copy_only=False) == split).to_pydict()
    for a, n in zip(cols["pos_state_hash"], cols["state_hash"]):
        out.setdefault(a, set()).add(n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--latent", type=int, default=64, help="Intrinsic dimension of the vectors (0: i.i.d.).")
    ap.add_argument("--pool", type=int, default=16)
    ap.add_argument("--data-root", type=Path, default=None, help="An existing replica (else one is generated).")
    ap.add_argument("--skip-exact", action="store_true", help="Skip the flat index and the NumPy baseline.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    peak = Peak()
    doc: dict = {"scale": args.scale, "dim": args.dim, "latent": args.latent, "pool": args.pool}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = args.data_root
        if root is None:
            from prover_data.synth import generate

            root = work / "replica"
            generate(root, args.scale, args.seed)
        off = load_manifest(tier_manifest(work, root, args.dim, args.pool, "flat", 0.0))
        on = load_manifest(tier_manifest(work, root, args.dim, args.pool, "flat", 0.3))
        t0 = time.perf_counter()
        doc["states"] = fill_store(on, args.dim, args.latent, args.seed)
        doc["fill_seconds"] = round(time.perf_counter() - t0, 1)

        con = connect(on, read_base_pairs=False, embedding_tier=False)
        pin = negative_tier.pin(on)
        searches = {}
        for kind in ("hnsw",) + (() if args.skip_exact else ("flat",)):
            searches[kind] = {}
            with part(peak, searches[kind]):
                t0 = time.perf_counter()
                found = negative_tier.neighbours(con, replace(pin, kind=kind))
                searches[kind]["seconds"] = round(time.perf_counter() - t0, 3)
            searches[kind]["table"] = found.table
            doc["splits"] = {s: {k: v for k, v in st.items() if k in ("anchors", "pool")} for s, st in found.stats.items()}
        if not args.skip_exact:
            base: dict = {}
            states = con.sql("SELECT split, role, state_hash FROM embedding_tier_states ORDER BY ALL").to_arrow_table()
            with part(peak, base):
                t0 = time.perf_counter()
                exact_np = {}
                col = states.to_pydict()
                for split in ("train", "val"):
                    anchors = key_matrix([h for s, r, h in zip(col["split"], col["role"], col["state_hash"])
                                          if s == split and r == "anchor"])
                    pool = key_matrix([h for s, r, h in zip(col["split"], col["role"], col["state_hash"])
                                       if s == split and r == "pool"])
                    exact_np[split] = dict(zip((bytes(a) for a in anchors), numpy_search(pin.space, anchors, pool, args.pool)))
                base["seconds"] = round(time.perf_counter() - t0, 3)
            searches["numpy"] = base
            flat = {s: neighbour_sets(searches["flat"]["table"], s) for s in ("train", "val")}
            agree = sum(flat[s].get(a, set()) == n for s in exact_np for a, n in exact_np[s].items())
            total = sum(len(exact_np[s]) for s in exact_np)
            doc["flat_equals_numpy"] = f"{agree}/{total}"
            approx = {s: neighbour_sets(searches["hnsw"]["table"], s) for s in ("train", "val")}
            hits = sum(len(approx[s].get(a, set()) & n) for s in flat for a, n in flat[s].items())
            doc["hnsw_recall"] = round(hits / max(1, sum(len(n) for s in flat for n in flat[s].values())), 4)
            doc["flat_vs_numpy"] = round(base["seconds"] / max(searches["flat"]["seconds"], 1e-9), 2)
        for v in searches.values():
            v.pop("table", None)
        doc["search"] = searches

        builds = {}
        for label, manifest in (("tier off", off), ("tier on (flat)", on)):
            builds[label] = {}
            with part(peak, builds[label]):
                t0 = time.perf_counter()
                r = build(manifest, work / f"build_{len(builds)}")
                builds[label]["seconds"] = round(time.perf_counter() - t0, 3)
            if r.stats["contrastive"].get("embedding_tier"):
                builds[label]["embedding_negatives_drawn"] = sum(
                    r.stats["contrastive"]["samples"][s]["tiers"]["embedding"] for s in ("train", "val"))
        doc["build"] = builds
        doc["peak_rss_per_part"] = peak.resets

    if args.json:
        print(json.dumps(doc, indent=2))
        return
    shape = f"latent {args.latent}" if args.latent else "i.i.d."
    print(f"scale {args.scale}: {doc['states']:,} states, dim {args.dim} fp16 ({shape}), pool {args.pool}; "
          + ", ".join(f"{s} {v['anchors']:,} anchors x {v['pool']:,} negatives" for s, v in doc["splits"].items()))
    print("| search | seconds | x NumPy | peak RSS MiB (at start) |")
    print("|---|---|---|---|")
    for kind, v in doc["search"].items():
        ratio = "1.00" if kind == "numpy" or "numpy" not in doc["search"] else \
            f"{doc['search']['numpy']['seconds'] / max(v['seconds'], 1e-9):.2f}"
        print(f"| {kind} | {v['seconds']} | {ratio} | {v['peak_rss_mib']:,} ({v['rss_at_start_mib']:,}) |")
    if "flat_equals_numpy" in doc:
        print(f"flat top-{args.pool} sets equal NumPy's for {doc['flat_equals_numpy']} anchors; "
              f"HNSW recall {doc['hnsw_recall']:.2%}")
    for label, v in doc["build"].items():
        extra = f", {v['embedding_negatives_drawn']:,} embedding negatives drawn" if "embedding_negatives_drawn" in v else ""
        print(f"build-manifest, {label}: {v['seconds']} s, peak RSS {v['peak_rss_mib']:,} MiB{extra}")


if __name__ == "__main__":
    main()
