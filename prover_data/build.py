"""``build-manifest``: run the views, write an iteration's datasets, lock and report.

A build is all-or-nothing: every output is written into a temporary sibling of
``build/NAME`` which replaces it only when complete (``atomic.atomic_dir``), so a
crash or ``kill -9`` at any point leaves the previous build readable. A lock file held
for the duration keeps two builds of one manifest from interleaving. Before any work
the inputs are hashed; if they, the manifest, the SQL files and the package versions
are what the existing lock records, and its outputs are intact, the build is a no-op.

Python here only wires. The stages, in order (``STAGES``):

1. *hash inputs* -- content hashes of every input; equal to the lock's: done.
2. *validate inputs* -- every input through the readers of ``inputs/``; all problems of all
   files are reported together and nothing is written. It runs while DuckDB already
   materializes the trajectory views (stage 3) on its own threads: both read the
   same files, and a bad file stops the build before anything is written either way.
3. *trajectory views* -- the views that several outputs and statistics read, computed
   once into temporary tables (``MATERIALIZED``).
4. *base pairs* -- the validated LeanDojo table is registered and the SFT pairs made.
5. *write datasets* -- each output view (``sql/90_outputs.sql``) streamed to parquet
   in fixed-size row groups (bytes independent of DuckDB's thread scheduling), cast
   to and checked against ``schema.OUTPUTS``.
6. *statistics*, 7. *eval sets* (``BUILD_HOOKS``), 8. *report* (``report.render`` of the
   stats dict, plots), 9. *lock*.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data import __version__
from prover_data.atomic import atomic_dir, exclusive, recover
from prover_data.embeddings import negative_tier
from prover_data.embeddings.coverage import build_hook as embedding_coverage
from prover_data.errors import InputError
from prover_data.evalsets import build_hook as eval_sets
from prover_data.identity import file_digest
from prover_data.lock import Lock, input_entries, package_versions, sql_hashes
from prover_data.manifest import Manifest
from prover_data.schema import OUTPUTS

ROW_GROUP = 65536
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True, write_statistics=True)
STAGES = ("hash inputs", "validate inputs", "trajectory views", "base pairs", "write datasets", "statistics",
          "eval sets", "report", "lock")

# Views read by several outputs and statistics, computed once into temporary tables
# (the temp schema comes first in DuckDB's search path, so every view that names them
# reads the table). The first group needs only the trajectories; the second the base
# pairs too. DuckDB offloads them to the spill directory past MEMORY_LIMIT, which
# leaves room for validation running beside it and for the eval hook's Python sets:
# a 10M-record build (scale 16) peaks under 4 GiB.
MATERIALIZED = ("trajectories", "theorem_split", "sft_candidates", "sft_status", "contrastive_negative_records",
                "contrastive_samples", "states")
MATERIALIZED_WITH_BASE = ("base_pairs_classified", "sft_pairs")
TIERS = ("hard", "embedding", "medium", "easy")  # contrastive_samples' neg_tiers, in slot order
MEMORY_LIMIT = os.environ.get("PROVER_DATA_MEMORY_LIMIT", "1536MB")
THREADS = int(os.environ.get("PROVER_DATA_THREADS", "0")) or min(os.cpu_count() or 1, 8)

# Stages of other areas, run after the datasets are written, inside the temporary build
# directory: hook(manifest, connection, tmp_dir, stats, lock). A hook adds its figures
# to ``stats`` (rendered by report.py) and its files to ``lock.outputs``: the eval sets
# with their contamination audit, and the embedding store's coverage of the states.
BUILD_HOOKS: list[Callable] = [eval_sets, embedding_coverage]


@dataclass(frozen=True)
class BuildResult:
    name: str
    out_dir: Path
    up_to_date: bool
    stats: dict
    lock: Lock


def build_dir(manifest: Manifest, build_root: str | Path = "build") -> Path:
    return Path(build_root) / manifest.name


def build(manifest: Manifest, build_root: str | Path = "build", *, force: bool = False, wait: bool = False,
          progress=None) -> BuildResult:
    """Build ``manifest`` into ``build_root/NAME`` unless it is already up to date."""
    from prover_data.sql_files import sql_files

    out = build_dir(manifest, build_root)
    stages = _Stages(progress)
    with exclusive(Path(build_root) / f".{manifest.name}.lock", wait=wait, what=f"build {out}"):
        recover(out)
        with stages("hash inputs"):
            tier = negative_tier.pin(manifest) if negative_tier.enabled(manifest) else None
            lock = Lock(
                manifest={"name": manifest.name, "file": manifest.path.name, "hash": manifest.digest()},
                inputs=input_entries(manifest) + ([tier.lock_entry()] if tier else []),
                sql=sql_hashes(sql_files()),
                versions=package_versions(),
            )
            previous = out / "lock.json"
            if not force and previous.is_file() and (out / "stats.json").is_file():
                old = Lock.read(previous)
                if old.fingerprint() == lock.fingerprint() and old.outputs_intact(out):
                    _ensure_views_db(out)
                    stages.skip_rest()
                    return BuildResult(manifest.name, out, True, json.loads((out / "stats.json").read_text()), old)

        with atomic_dir(out) as tmp:
            con, inputs, tier_stats = _validate_and_prepare(manifest, tmp / ".work", stages, tier)
            lock.inputs = [e if e.role == "embeddings" else replace(e, rows=inputs.rows.get(e.path))
                           for e in lock.inputs]

            with stages("base pairs"):
                from prover_data.views import register_base_pairs

                # Copied into DuckDB (which spills past its limit) so the Arrow table
                # parsed by validation does not stay resident for the rest of the build.
                register_base_pairs(con, inputs.base_pairs)
                con.execute("CREATE TEMP TABLE base_pairs_copy AS SELECT * FROM base_pairs_input")
                con.unregister("base_pairs_input")
                con.execute("ALTER TABLE base_pairs_copy RENAME TO base_pairs_input")
                inputs = replace(inputs, base_pairs=None)
                for view in MATERIALIZED_WITH_BASE:
                    con.execute(f"CREATE TEMP TABLE {view} AS SELECT * FROM main.{view}")

            counts = {name: con.execute(f"SELECT count(*) FROM out_{name}").fetchall()[0][0] for name in OUTPUTS}
            with stages("write datasets", total=sum(counts.values())) as advance:
                for name, schema in OUTPUTS.items():
                    rows = _write_parquet(con, f"SELECT * FROM out_{name}", tmp / f"{name}.parquet", schema, advance)
                    lock.outputs[name] = {"file": f"{name}.parquet", "rows": rows}

            with stages("statistics"):
                stats = collect_stats(con, manifest, inputs)
                stats["contrastive"]["embedding_tier"] = tier_stats
            with stages("eval sets, embedding coverage"):
                for hook in BUILD_HOOKS:
                    hook(manifest, con, tmp, stats, lock)

            with stages("report"):
                from prover_data.report import plots, render

                stats["plots"] = plots(stats, tmp / "plots")
                (tmp / "report.md").write_text(render(stats), encoding="utf-8")
                (tmp / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8")

            with stages("lock"):
                for entry in lock.outputs.values():
                    entry["hash"] = file_digest(tmp / entry["file"])
                lock.outputs["report"] = {"file": "report.md", "rows": None, "hash": file_digest(tmp / "report.md")}
                (tmp / "lock.json").write_text(lock.to_json(), encoding="utf-8")
                con.close()
                shutil.rmtree(tmp / ".work")
        _ensure_views_db(out)
        return BuildResult(manifest.name, out, False, stats, lock)


class _Stages:
    """One progress line per stage, each filled when its stage ends.

    ``with stages(name, total) as advance`` marks a stage; ``advance(n)`` moves its
    bar for stages with a known amount of work (rows written).
    """

    def __init__(self, progress):
        self.progress = progress

    def __call__(self, name: str, total: int = 1):
        return _Stage(self.progress, name, total)

    def skip_rest(self) -> None:
        if self.progress is not None:
            self.progress.add_task("up to date", total=1, completed=1)


class _Stage:
    def __init__(self, progress, name: str, total: int):
        self.progress, self.name, self.total = progress, name, max(total, 1)
        self.task = None

    def __enter__(self) -> Callable[[int], None]:
        if self.progress is not None:
            self.task = self.progress.add_task(self.name, total=self.total)
        return self.advance

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)

    def __exit__(self, exc_type, *_) -> None:
        if self.task is not None and exc_type is None:
            self.progress.update(self.task, completed=self.total)


# --------------------------------------------------------------------------- inputs


@dataclass
class Inputs:
    """What validation learned: rows per input (path relative to the data root), sizes
    of trajectory files by source, and the base pairs table (already parsed)."""

    rows: dict[str, int]
    sizes: dict[str, int]
    base_pairs: pa.Table | None


def validate_inputs(manifest: Manifest) -> Inputs:
    """Read and check every input; one InputError with every problem of every file."""
    from prover_data.inputs.leandojo import read_leandojo
    from prover_data.inputs.search_config import read_search_config
    from prover_data.inputs.theorem_lists import read_theorem_list
    from prover_data.inputs.trajectories import check_trajectory_file

    problems = []
    rows: dict[str, int] = {}
    sizes: dict[str, int] = {}

    def rel(p: Path) -> str:
        return os.path.relpath(p, manifest.root)

    def attempt(fn, path: Path):
        try:
            return fn(path)
        except InputError as e:
            problems.extend(e.problems)
            return None

    for p in manifest.trajectory_paths():
        info = attempt(lambda path: check_trajectory_file(path, manifest.sources.repeated_searches), p)
        if info is not None:
            rows[rel(p)] = info.rows
            sizes[p.stem] = p.stat().st_size
    base = None
    s = manifest.sources
    if s.base_pairs is not None:
        base_path = manifest.resolve(s.base_pairs.path)
        full = attempt(read_leandojo, base_path)
        if full is not None:
            rows[rel(base_path)] = full.num_rows
            base = full
    lists = dict(manifest.held_out_paths())
    if s.theorem_index is not None:
        lists["theorem_index"] = manifest.resolve(s.theorem_index)
    for path in lists.values():
        t = attempt(read_theorem_list, path)
        if t is not None:
            rows[rel(path)] = t.num_rows
    if s.search_config is not None:
        attempt(read_search_config, manifest.resolve(s.search_config))
    if problems:
        raise InputError(problems)
    return Inputs(rows, sizes, base)


def _validate_and_prepare(manifest: Manifest, work: Path, stages: _Stages, tier: "negative_tier.Pin | None"):
    """Validate the inputs while DuckDB materializes the trajectory views.

    Validation is mostly Python; DuckDB runs on its own threads and releases the GIL,
    so the two overlap. If validation fails, the DuckDB work is interrupted and its
    error (a bad file upsets it too) is dropped: the user gets the validation report.
    With the contrastive embedding tier on (``tier``), its neighbours are searched
    just before ``contrastive_samples``, which draws from them.
    """
    holder: dict = {"tier_stats": None}
    cancelled = threading.Event()

    def prepare():
        with stages("trajectory views", total=len(MATERIALIZED)) as advance:
            con = holder["con"] = work_connection(manifest, work)
            for view in MATERIALIZED:
                if cancelled.is_set():
                    return con
                if view == "contrastive_samples" and tier is not None:
                    found = negative_tier.neighbours(con, tier)
                    negative_tier.register(con, found)
                    holder["tier_stats"] = found.report(tier)
                con.execute(f"CREATE TEMP TABLE {view} AS SELECT * FROM main.{view}")
                advance(1)
            return con

    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(prepare)
        try:
            with stages("validate inputs"):
                inputs = validate_inputs(manifest)
        except BaseException:
            cancelled.set()
            if "con" in holder:
                holder["con"].interrupt()
            try:
                future.result()
            except Exception:  # noqa: BLE001 - the validation error is the one to report
                pass
            if "con" in holder:
                holder["con"].close()
            raise
        return future.result(), inputs, holder["tier_stats"]


def work_connection(manifest: Manifest, work: Path):
    """The build's DuckDB connection: views over the manifest, spilling under ``work``."""
    from prover_data.views import connect

    work.mkdir(parents=True, exist_ok=True)
    con = connect(manifest, base_pairs=None, read_base_pairs=False, embedding_tier=False)
    con.execute(f"SET threads = {THREADS}")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"SET temp_directory = '{(work / 'spill').as_posix()}'")
    return con


# --------------------------------------------------------------------------- outputs


def _write_parquet(con, query: str, path: Path, schema: pa.Schema, advance=lambda n: None) -> int:
    """Stream a query into parquet in exact ROW_GROUP-row groups; return the row count."""
    reader = con.sql(query).to_arrow_reader(ROW_GROUP)
    total = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with pq.ParquetWriter(path, schema, **PARQUET_OPTIONS) as writer:
        for batch in reader:
            pending.append(_conform(batch, schema))
            pending_rows += batch.num_rows
            while pending_rows >= ROW_GROUP:
                table = pa.Table.from_batches(pending, schema)
                writer.write_table(table.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                rest = table.slice(ROW_GROUP)
                pending, pending_rows = rest.to_batches(), rest.num_rows
                total += ROW_GROUP
                advance(ROW_GROUP)
        if pending_rows or total == 0:
            writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=ROW_GROUP)
            total += pending_rows
            advance(pending_rows)
    return total


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """DuckDB's Arrow types (blob, varchar views) cast to the contract's types, checked."""
    if batch.schema.names != schema.names:
        raise RuntimeError(f"output columns {batch.schema.names} differ from the contract {schema.names}")
    arrays = [batch.column(i).cast(field.type) for i, field in enumerate(schema)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


VIEWS_DB = "views.duckdb"


def _ensure_views_db(out: Path) -> None:
    """``views.duckdb``: views over the outputs, so ``duckdb build/NAME/views.duckdb`` works.

    The views name the outputs by absolute path (DuckDB resolves a relative path
    against the working directory, not the database file), so the file is made after
    the build directory is in place and remade when the directory has moved. It is a
    convenience outside the lock and outside the byte-determinism promise (a DuckDB
    database file is not byte-reproducible).
    """
    import duckdb

    final = out / VIEWS_DB
    targets = {name: (out.resolve() / f"{name}.parquet").as_posix() for name in OUTPUTS}
    if final.is_file() and _views_point_at(final, targets):
        return
    tmp = out / f".{VIEWS_DB}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    for name, target in targets.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{_quote(target)}')")
    con.close()
    os.replace(tmp, final)


def _views_point_at(db: Path, targets: dict[str, str]) -> bool:
    import duckdb

    try:
        con = duckdb.connect(str(db), read_only=True)
        try:
            sql = dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
        finally:
            con.close()
    except duckdb.Error:
        return False
    return all(name in sql and _quote(t) in sql[name] for name, t in targets.items())


def _quote(text: str) -> str:
    return text.replace("'", "''")


# --------------------------------------------------------------------------- stats


def collect_stats(con, manifest: Manifest, inputs: Inputs) -> dict:
    """Every figure of the report, from the views; ``report.render`` turns it into text."""
    files = [dict(zip(("file_order", "source", "total", "positive", "usable", "empty", "sorry", "dup", "theorems",
                       "searches"), r))
             for r in con.execute("SELECT * FROM sft_file_stats").fetchall()]
    for f in files:
        f["file"] = f"{f['source']}.parquet"
        f["size_bytes"] = inputs.sizes.get(f["source"], 0)
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
