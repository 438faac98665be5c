"""The embedding store at the report's shape: size on disk, coverage, EBM gather, BurnQED import.

    python benchmarks/embeddings.py [--rows 217539] [--dim 4096] [--import-rows N] [--import-dim D]
                                    [--reps 200] [--work DIR] [--json]

Random normal vectors (seeded, one block of ``--chunk`` rows at a time, so the same
vectors come back in every part) for ``--rows`` Lean-like states, written through the
real store API (``prover_data.embeddings``). Four measurements, each against a target
and, where the figure is a speed, against a baseline measured in the same run:

1. **write + size** -- the vectors written into a fresh store as float16, bfloat16 and
   float32 (``Store.writer``: add in blocks, one commit): seconds, rows/s, and the
   store directory's bytes over the raw bytes (rows x dim x 2 for fp16; target
   <= 1.05x). The same vectors as a BurnQED ``embeddings.parquet`` (state_pp +
   list<double>, snappy as pyarrow writes it): its bytes over the raw fp16 bytes
   (the report's ~4x).
2. **coverage** -- ``coverage()`` of all the states (as the build's Arrow column of
   hashes) against the fp16 store, opened afresh each time: first call and median;
   target <= 1 s at 217K states. Every state must come back cached.
3. **EBM gather** -- the fp16 store exported dense (``export_dense``, memory-mapped by
   ``DenseEmbeddings``), a contrastive table of random samples over it, and the
   trainer's own batch path: ``prover_models.data.contrastive_loader`` over
   ``ContrastiveSamples``, 256 samples x (1 + 7) vectors a batch. GB/s counts the
   stored bytes of a batch (2,048 x dim x 2). Baselines, interleaved with it rep by
   rep: ``np.copyto`` between two preallocated contiguous arrays of the batch's size
   (the copy bandwidth; target: the EBM batch at >= 50% of it), a copy into a fresh
   array of that size, and ``np.take`` of the same rows from an in-RAM copy of the
   matrix. ``DenseEmbeddings.gather_stored`` and ``gather`` (widened to float32) are
   timed too. Medians after the map has been touched once; the first batches (page
   faults on a fresh map) are reported apart.
4. **import** -- a BurnQED ``embeddings.parquet`` of ``--import-rows`` x ``--import-dim``
   f64 vectors into a fresh store as fp16 (``burnqed_import.import_burnqed``): seconds,
   rows/s, peak RSS. Baselines: pyarrow reading the same file batch by batch, nothing
   else, with pyarrow's defaults (pre-buffered; best of a read before and one after the
   import), and streaming (``pre_buffer=False``, an 8 MiB buffer, as the importer
   opens it), whose peak RSS shows what a reader bounded by the batch needs. The file was just written, so it
   is read from the page cache.

Peak RSS is ``resource.getrusage`` (ru_maxrss), reset at the start of each part by
writing 5 to ``/proc/self/clear_refs`` (Linux >= 4.0), so each part reports its own
peak; file pages of a memory map count towards it. Where the reset is refused, each
part reports the process's peak so far, and the output says so.

A 217,539 x 4096 f64 parquet is 7.1 GB; its import needs memory for however much of
the file the parquet reader holds at once. ``--import-dim`` (default ``--dim``) makes
the import smaller when memory is short; the output names the sizes used. Everything
is written under a temporary directory (inside ``--work`` when given), removed at the
end; the full shape needs about 3.6 GB free (fp32 store) plus the parquet file.
"""

from __future__ import annotations

import argparse
import gc
import resource
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DTYPES = ("float16", "bfloat16", "float32")
SIZE_TARGET = 1.05  # store bytes / raw fp16 bytes
COVERAGE_TARGET_S = 1.0
GATHER_TARGET = 0.5  # EBM batch GB/s / np.copyto GB/s
IMPORT_BATCH_ROWS = 8192  # import_burnqed's default batch


# --------------------------------------------------------------------------- data


def state_texts(n: int) -> list[str]:
    """``n`` distinct Lean-looking states (the strings the hashes and the parquet carry)."""
    goals = ("a + b = b + a", "n * 0 = 0", "x ≤ x ^ 2 + 1", "p ∧ q → q ∧ p")
    return [f"n : ℕ\nh : 0 < n\n⊢ {goals[i % 4]} -- bench {i}" for i in range(n)]


def block_vectors(seed: int, start: int, stop: int, dim: int) -> np.ndarray:
    """float32 vectors of rows ``start..stop``: the same values whenever asked for the same block."""
    return np.random.default_rng([seed, start, dim]).standard_normal((stop - start, dim), dtype=np.float32)


def blocks(n: int, chunk: int):
    for start in range(0, n, chunk):
        yield start, min(start + chunk, n)


def write_burnqed_parquet(path: Path, texts: list[str], dim: int, seed: int, chunk: int, row_group_rows: int,
                          compression: str, progress) -> None:
    """BurnQED's ``embeddings.parquet``: state_pp + list<double>, written one row group at a time.

    The values are float32 widened to f64: BurnQED mean-pools in float32 (fp16 hidden
    states times a float32 mask), so its vectors are not fp16 values and do not shrink
    under parquet's dictionary encoding the way fp16-rounded values would.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from prover_data.schema import BURNQED_EMBEDDINGS

    n = len(texts)
    task = progress.add_task(f"BurnQED parquet {n:,} x {dim} f64", total=n)
    group = max(chunk, row_group_rows // chunk * chunk)
    with pq.ParquetWriter(path, BURNQED_EMBEDDINGS, compression=compression) as writer:
        for g0 in range(0, n, group):
            g1 = min(g0 + group, n)
            values = np.concatenate([block_vectors(seed, s, min(s + chunk, g1), dim) for s in range(g0, g1, chunk)])
            offsets = pa.array(np.arange(0, (g1 - g0) * dim + 1, dim, dtype=np.int32))
            embedding = pa.ListArray.from_arrays(offsets, pa.array(values.astype(np.float64).reshape(-1)))
            table = pa.Table.from_arrays([pa.array(texts[g0:g1], pa.string()), embedding], schema=BURNQED_EMBEDDINGS)
            writer.write_table(table, row_group_size=g1 - g0)
            progress.advance(task, g1 - g0)


# --------------------------------------------------------------------------- measuring


class Peak:
    """Per-part peak RSS: ru_maxrss, reset through /proc/self/clear_refs when the kernel allows."""

    def __init__(self):
        self.resets = True

    def reset(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            self.resets = False

    @staticmethod
    def mib() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    @staticmethod
    def current_mib() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20


@contextmanager
def part(peak: Peak, out: dict):
    """Free what earlier parts left, reset the peak, and record this part's peak RSS in ``out``."""
    gc.collect()
    if "pyarrow" in sys.modules:  # Arrow's allocator keeps freed memory mapped unless asked
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    peak.reset()
    out["rss_at_start_mib"] = round(peak.current_mib())
    yield
    out["peak_rss_mib"] = round(peak.mib())


def fail(message: str) -> None:
    raise SystemExit(f"benchmarks/embeddings.py: {message}")


# --------------------------------------------------------------------------- 1. write + size


def measure_write(work: Path, keys: np.ndarray, dim: int, dtype: str, spec, seed: int, chunk: int, progress) -> dict:
    """Write every row into a fresh store; only the store's calls are timed, not the vector generation."""
    from prover_data.embeddings import Store
    from prover_data.embeddings.store.dtypes import itemsize

    n = len(keys)
    path = work / f"store-{dtype}"
    task = progress.add_task(f"write {dtype}", total=n)
    t = time.perf_counter()
    store = Store.open(path, create=True)
    writer = store.writer(spec, dtype, expected_dim=dim)
    spent = time.perf_counter() - t
    with writer:
        for start, stop in blocks(n, chunk):
            vectors = block_vectors(seed, start, stop, dim)
            t = time.perf_counter()
            writer.add(keys[start:stop], vectors)
            spent += time.perf_counter() - t
            progress.advance(task, stop - start)
        t = time.perf_counter()
        result = writer.commit(f"benchmark {dtype}")
        spent += time.perf_counter() - t
    if result.added_rows != n:
        fail(f"{dtype} store committed {result.added_rows:,} rows, expected {n:,}")
    version = store.resolve("HEAD")
    size = store.size_bytes()
    raw = n * dim * itemsize(dtype)
    return {"seconds": spent, "rows_per_s": n / spent, "bytes": size, "raw_bytes": raw,
            "ratio_to_raw": size / raw, "ratio_to_raw_fp16": size / (n * dim * 2),
            "segments": len(version.segments), "path": path}


# --------------------------------------------------------------------------- 2. coverage


def measure_coverage(store_path: Path, keys: np.ndarray, spec, reps: int) -> dict:
    from prover_data.embeddings import coverage
    from prover_data.embeddings.store.keys import to_arrow
    from prover_data.manifest import Embeddings

    emb = Embeddings(store=str(store_path), encoder=spec.model, dtype="float16", max_length=spec.max_length)
    hashes = to_arrow(keys)  # what the build hands over: the states table's state_hash column
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        cov = coverage(store_path, emb, hashes, encoder=spec)
        times.append(time.perf_counter() - t)
        if (cov.cached, cov.missing) != (len(keys), 0):
            fail(f"coverage found {cov.cached:,} cached / {cov.missing:,} missing of {len(keys):,} written states")
    return {"states": len(keys), "first_s": times[0], "median_s": statistics.median(times), "reps": reps,
            "target_s": COVERAGE_TARGET_S, "meets_target": statistics.median(times) <= COVERAGE_TARGET_S}


# --------------------------------------------------------------------------- 3. gather


def write_contrastive(path: Path, keys: np.ndarray, n_samples: int, k: int, seed: int) -> None:
    """A contrastive table (``schema.CONTRASTIVE``) of random samples over the stored states."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from prover_data.embeddings.store.keys import to_arrow
    from prover_data.schema import CONTRASTIVE

    rng = np.random.default_rng([seed, 7])
    pos = rng.integers(len(keys), size=n_samples)
    neg = rng.integers(len(keys), size=(n_samples, k))
    tiers = ["hard", "medium", "easy"]
    table = pa.Table.from_arrays([
        pa.array(np.arange(n_samples), pa.int64()),
        pa.array(np.ones(n_samples, np.int32)),
        pa.array([f"thm_{i}" for i in range(n_samples)]),
        pa.array(["iter_1"] * n_samples),
        to_arrow(keys[pos]).cast(pa.binary(16)),
        pa.array(rng.integers(-1, 8, size=n_samples).astype(np.int32)),
        pa.ListArray.from_arrays(pa.array(np.arange(0, n_samples * k + 1, k, dtype=np.int32)),
                                 to_arrow(keys[neg.reshape(-1)]).cast(pa.binary(16))),
        pa.array([[tiers[min(j * 3 // k, 2)] for j in range(k)]] * n_samples, pa.list_(pa.string())),
    ], schema=CONTRASTIVE)
    pq.write_table(table, path)


def measure_gather(work: Path, store_path: Path, keys: np.ndarray, dim: int, seed: int, chunk: int, args,
                   progress) -> dict:
    import torch

    from prover_data.embeddings import DenseEmbeddings, export_dense
    from prover_models.data import ContrastiveSamples, batch_indices, contrastive_loader

    t = time.perf_counter()
    dense = DenseEmbeddings.open(export_dense(store_path, None, work / "dense", dtype="float16", progress=progress))
    export_s = time.perf_counter() - t
    write_contrastive(work / "contrastive_train.parquet", keys, args.samples, args.k, seed)
    t = time.perf_counter()
    data = ContrastiveSamples(work / "contrastive_train.parquet", dense, k=args.k)
    load_s = time.perf_counter() - t
    n_rows = args.batch * (1 + args.k)
    batch_bytes = n_rows * dim * 2

    def batch_rows(step: int) -> np.ndarray:  # the rows ContrastiveSamples gathers for this step
        idx = batch_indices(len(data), args.batch, 0, step)
        return np.concatenate([data.pos_rows[idx], data.neg_rows[idx].reshape(-1)])

    steps = args.first + args.reps
    loader = iter(contrastive_loader(data, args.batch, 0, 0, steps))
    first = []
    for _ in range(args.first):  # a fresh map: every batch still faults pages in
        t = time.perf_counter()
        next(loader)
        first.append(time.perf_counter() - t)

    in_ram = np.array(dense.raw())  # also touches every page of the map
    stop = min(chunk, len(keys))
    want = block_vectors(seed, 0, stop, dim).astype(np.float16)
    if not np.array_equal(in_ram[dense.rows(keys[:stop])], want):
        fail("the dense export does not hold the vectors written")
    src = in_ram[np.arange(n_rows) % len(in_ram)]  # a batch of contiguous rows (repeated if the export is smaller)
    dst = np.empty_like(src)
    np.copyto(dst, src)

    times = {name: [] for name in ("copyto", "copy_fresh", "take_in_ram", "gather_stored", "ebm_batch", "gather_f32")}
    for step in range(args.first, steps):
        rows = batch_rows(step)
        for name, run in (("copyto", lambda: np.copyto(dst, src)),
                          ("copy_fresh", lambda: src.copy()),
                          ("take_in_ram", lambda: np.take(in_ram, rows, axis=0)),
                          ("gather_stored", lambda: dense.gather_stored(rows)),
                          ("ebm_batch", lambda: next(loader)),
                          ("gather_f32", lambda: dense.gather(rows))):
            t = time.perf_counter()
            out = run()
            times[name].append(time.perf_counter() - t)
            if name == "ebm_batch" and step == args.first:
                got = torch.cat([out["pos"].reshape(-1, dim), out["neg"].reshape(-1, dim)]).numpy()
                if not np.array_equal(got, in_ram[rows]):
                    fail("the EBM batch differs from the rows it should hold")
            del out
    median = {name: statistics.median(v) for name, v in times.items()}
    gbps = {name: batch_bytes / s / 1e9 for name, s in median.items()}
    ratio = gbps["ebm_batch"] / gbps["copyto"]
    return {"rows_in_export": len(dense), "batch": args.batch, "k": args.k, "rows_per_batch": n_rows,
            "batch_bytes": batch_bytes, "reps": args.reps, "export_s": export_s, "dataset_load_s": load_s,
            "median_ms": {k: 1e3 * v for k, v in median.items()}, "gb_per_s": gbps,
            "first_batches_median_ms": 1e3 * statistics.median(first) if first else None,
            "first_batches_gb_per_s": batch_bytes / statistics.median(first) / 1e9 if first else None,
            "ratio_to_copyto": ratio, "ratio_to_copy_fresh": gbps["ebm_batch"] / gbps["copy_fresh"],
            "ratio_to_take_in_ram": gbps["ebm_batch"] / gbps["take_in_ram"], "target_ratio": GATHER_TARGET,
            "meets_target": ratio >= GATHER_TARGET, "torch_threads": torch.get_num_threads()}


# --------------------------------------------------------------------------- 4. import


def measure_read(path: Path, batch_rows: int, *, streaming: bool = False) -> dict:
    """Baseline: pyarrow reads the file batch by batch and does nothing else.

    By default the file is opened with pyarrow's defaults (``pq.ParquetFile(path)``:
    pre-buffering the column chunks it will read); ``streaming`` reads pages through an
    8 MiB buffer instead, as the importer does, which bounds memory by the batch.
    """
    import pyarrow.parquet as pq

    options = {"pre_buffer": False, "buffer_size": 8 << 20} if streaming else {}
    t = time.perf_counter()
    batches = pq.ParquetFile(path, **options).iter_batches(batch_size=batch_rows, columns=["state_pp", "embedding"])
    rows = sum(b.num_rows for b in batches)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "rows_per_s": rows / seconds}


def measure_import(work: Path, path: Path, texts: list[str], dim: int, spec, seed: int, chunk: int,
                   progress) -> dict:
    from prover_data.embeddings import Store
    from prover_data.embeddings.burnqed_import import import_burnqed
    from prover_data.embeddings.store.keys import hash_states

    store = Store.open(work / "store-import", create=True)
    t = time.perf_counter()
    result = import_burnqed(store, path, encoder=spec, dtype="float16", progress=progress)
    seconds = time.perf_counter() - t
    n = len(texts)
    if (result.rows, result.imported, result.dropped, result.dim) != (n, n, 0, dim):
        fail(f"import gave rows={result.rows:,} imported={result.imported:,} dropped={result.dropped:,} "
             f"dim={result.dim}, expected {n:,} rows of dim {dim}")
    space = store.select(store.resolve("HEAD"), encoder=spec.id, dtype="float16")[0]
    stop = min(chunk, n)
    if not np.array_equal(space.raw(space.rows(hash_states(texts[:stop]))),
                          block_vectors(seed, 0, stop, dim).astype(np.float16)):
        fail("the imported vectors differ from those in the parquet file")
    return {"seconds": seconds, "rows_per_s": n / seconds, "store_bytes": store.size_bytes()}


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=217_539, help="states written (the report's 217,539)")
    ap.add_argument("--dim", type=int, default=4096, help="vector dimension (DeepSeek-Prover-V2: 4096)")
    ap.add_argument("--import-rows", type=int, default=None,
                    help="rows of the BurnQED parquet imported (default --rows)")
    ap.add_argument("--import-dim", type=int, default=None, help="dimension of the imported parquet (default --dim)")
    ap.add_argument("--batch", type=int, default=256, help="EBM samples per batch")
    ap.add_argument("--k", type=int, default=7, help="negatives per sample")
    ap.add_argument("--samples", type=int, default=65_536, help="contrastive samples in the gather table")
    ap.add_argument("--reps", type=int, default=200, help="timed gather batches (median reported)")
    ap.add_argument("--first", type=int, default=20, help="batches timed on the fresh map, reported apart")
    ap.add_argument("--coverage-reps", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=4096, help="rows per Writer.add call (the store's flush size)")
    ap.add_argument("--row-group-rows", type=int, default=16_384, help="rows per row group of the BurnQED parquet")
    ap.add_argument("--parquet-compression", default="none", choices=("none", "snappy", "zstd"),
                    help="codec of the BurnQED parquet (BurnQED's Rust writer: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None, help="parent of the temporary working directory")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args()
    import_rows = args.import_rows if args.import_rows is not None else args.rows
    import_dim = args.import_dim if args.import_dim is not None else args.dim
    if min(args.rows, args.dim, import_rows, import_dim, args.reps, args.coverage_reps, args.chunk) < 1:
        fail("--rows, --dim, --import-rows, --import-dim, --reps, --coverage-reps and --chunk must be >= 1")

    from prover_data.console import print_json, print_table, progress, stdout
    from prover_data.embeddings import EncoderSpec
    from prover_data.embeddings.store.keys import hash_states

    spec = EncoderSpec(model="bench/encoder", weights="xxh3_128:" + "ab" * 16, max_length=2048)
    peak = Peak()
    doc: dict = {"sizes": {"rows": args.rows, "dim": args.dim, "import_rows": import_rows, "import_dim": import_dim,
                           "batch": args.batch, "k": args.k, "samples": args.samples, "chunk": args.chunk,
                           "row_group_rows": args.row_group_rows, "parquet_compression": args.parquet_compression},
                 "write": {}, "coverage": {}, "gather": {}, "import": {}}
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-embeddings-", dir=args.work) as tmp, \
            progress(quiet=args.json) as bar:
        work = Path(tmp)
        texts = state_texts(max(args.rows, import_rows))
        keys = hash_states(texts[:args.rows])

        stores = {}
        for dtype in DTYPES:
            with part(peak, doc["write"].setdefault(dtype, {})):
                figures = measure_write(work, keys, args.dim, dtype, spec, args.seed, args.chunk, bar)
            stores[dtype] = figures.pop("path")
            doc["write"][dtype].update(figures)
            if dtype != "float16":  # only fp16 is read below; free the disk
                shutil.rmtree(stores[dtype])

        burnqed = work / "embeddings.parquet"
        with part(peak, doc["write"].setdefault("burnqed_f64_parquet", {})):
            t = time.perf_counter()
            write_burnqed_parquet(burnqed, texts[:args.rows], args.dim, args.seed, args.chunk, args.row_group_rows,
                                  args.parquet_compression, bar)
            seconds = time.perf_counter() - t
        size = burnqed.stat().st_size
        raw = args.rows * args.dim * 8
        doc["write"]["burnqed_f64_parquet"].update(
            {"seconds": seconds, "rows_per_s": args.rows / seconds, "bytes": size, "raw_bytes": raw,
             "ratio_to_raw": size / raw, "ratio_to_raw_fp16": size / (raw // 4)})

        with part(peak, doc["coverage"]):
            doc["coverage"].update(measure_coverage(stores["float16"], keys, spec, args.coverage_reps))

        with part(peak, doc["gather"]):
            doc["gather"].update(measure_gather(work, stores["float16"], keys, args.dim, args.seed, args.chunk, args,
                                                bar))

        if (import_rows, import_dim) != (args.rows, args.dim):
            burnqed.unlink()
            burnqed = work / "embeddings-import.parquet"
            write_burnqed_parquet(burnqed, texts[:import_rows], import_dim, args.seed, args.chunk,
                                  args.row_group_rows, args.parquet_compression, bar)
        imp = doc["import"]
        imp["file_bytes"] = burnqed.stat().st_size
        reads = [{}, {}]  # before and after the import: the first read may meet the file's writeback
        with part(peak, reads[0]):
            reads[0].update(measure_read(burnqed, IMPORT_BATCH_ROWS))
        with part(peak, imp.setdefault("import_burnqed", {})):
            imp["import_burnqed"].update(
                measure_import(work, burnqed, texts[:import_rows], import_dim, spec, args.seed, args.chunk, bar))
        with part(peak, reads[1]):
            reads[1].update(measure_read(burnqed, IMPORT_BATCH_ROWS))
        best = min(reads, key=lambda r: r["seconds"])
        imp["pyarrow_read"] = {**best, "peak_rss_mib": max(r["peak_rss_mib"] for r in reads),
                               "rss_at_start_mib": min(r["rss_at_start_mib"] for r in reads)}
        with part(peak, imp.setdefault("pyarrow_read_streaming", {})):
            imp["pyarrow_read_streaming"].update(measure_read(burnqed, IMPORT_BATCH_ROWS, streaming=True))
        imp["ratio_to_read"] = imp["import_burnqed"]["seconds"] / imp["pyarrow_read"]["seconds"]
    doc["peak_rss_per_part"] = peak.resets
    doc["write"]["float16"]["target_ratio"] = SIZE_TARGET
    doc["write"]["float16"]["meets_target"] = doc["write"]["float16"]["ratio_to_raw_fp16"] <= SIZE_TARGET

    if args.json:
        print_json(doc)
        return
    report(doc, print_table, stdout)


def report(doc: dict, print_table, stdout) -> None:
    s, w, c, g, imp = doc["sizes"], doc["write"], doc["coverage"], doc["gather"], doc["import"]
    rss = "peak RSS MiB (at start)" if doc["peak_rss_per_part"] else "process peak RSS so far MiB (at start)"

    def mem(v: dict) -> str:
        return f"{v['peak_rss_mib']:,} ({v['rss_at_start_mib']:,})"

    stdout.print(f"Embedding store: {s['rows']:,} states x dim {s['dim']}; import {s['import_rows']:,} x "
                 f"{s['import_dim']} f64; EBM batch {s['batch']} x (1 + {s['k']})")
    names = {"float16": "store fp16", "bfloat16": "store bf16", "float32": "store fp32",
             "burnqed_f64_parquet": "BurnQED parquet (list<double>)"}
    print_table("1. Write and size on disk (target: fp16 store <= 1.05x raw fp16)",
                ["written as", "seconds", "rows/s", "MB on disk", "x raw (own dtype)", "x raw fp16", rss],
                [(names[k], v["seconds"], round(v["rows_per_s"]), v["bytes"] / 1e6, f"{v['ratio_to_raw']:.4f}",
                  f"{v['ratio_to_raw_fp16']:.4f}", mem(v)) for k, v in w.items()])
    print_table(f"2. Coverage, {c['states']:,} states (target <= {c['target_s']:g} s)",
                ["figure", "value"],
                [("first call, s", c["first_s"]), (f"median of {c['reps']}, s", c["median_s"]),
                 ("meets target", c["meets_target"]), (rss, mem(c))])
    labels = {"copyto": "np.copyto, preallocated (baseline)", "copy_fresh": "copy into a fresh array (baseline)",
              "take_in_ram": "np.take of the same rows, in RAM (baseline)",
              "gather_stored": "DenseEmbeddings.gather_stored", "ebm_batch": "EBM batch (contrastive_loader)",
              "gather_f32": "DenseEmbeddings.gather (float32 out)"}
    rows = [(labels[k], g["median_ms"][k], g["gb_per_s"][k], f"{g['gb_per_s'][k] / g['gb_per_s']['copyto']:.0%}")
            for k in labels]
    rows.append(("EBM batch, first batches on a fresh map", g["first_batches_median_ms"], g["first_batches_gb_per_s"],
                 f"{g['first_batches_gb_per_s'] / g['gb_per_s']['copyto']:.0%}" if g["first_batches_gb_per_s"] else ""))
    print_table(f"3. Gather of {g['rows_per_batch']:,} rows ({g['batch_bytes'] / 1e6:.1f} MB fp16) from "
                f"{g['rows_in_export']:,}, median of {g['reps']} (target: EBM batch >= 50% of np.copyto)",
                ["path", "ms", "GB/s", "of np.copyto"], rows)
    stdout.print(f"EBM batch / np.copyto = {g['ratio_to_copyto']:.0%} (meets target: {g['meets_target']}); "
                 f"dense export {g['export_s']:.1f} s, dataset load {g['dataset_load_s']:.2f} s, "
                 f"{rss} {mem(g)}")
    r, i, st = imp["pyarrow_read"], imp["import_burnqed"], imp["pyarrow_read_streaming"]
    print_table(f"4. Import of a {s['import_rows']:,} x {s['import_dim']} f64 BurnQED parquet "
                f"({imp['file_bytes'] / 1e9:.2f} GB) as fp16",
                ["step", "seconds", "rows/s", rss],
                [("pyarrow reads the file, default pre-buffering (baseline, best of 2)", r["seconds"],
                  round(r["rows_per_s"]), mem(r)),
                 ("pyarrow reads it streaming, as the importer opens it (baseline)", st["seconds"],
                  round(st["rows_per_s"]), mem(st)),
                 ("import_burnqed", i["seconds"], round(i["rows_per_s"]), mem(i))])
    stdout.print(f"import / read = {imp['ratio_to_read']:.1f}x; store after import {i['store_bytes'] / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
