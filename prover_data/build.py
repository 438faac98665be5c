"""``build-manifest``: run the views, write an iteration's datasets, lock and report.

A build is all-or-nothing: every output is written into a temporary sibling of
``build/NAME`` which replaces it only when complete (``atomic.atomic_dir``), so a
crash or ``kill -9`` at any point leaves the previous build readable. A lock file held
for the duration keeps two builds of one manifest from interleaving. Before any work
the inputs are hashed; if they, the manifest, the SQL files and the package versions
are what the existing lock records, and its outputs are intact, the build is a no-op.

Python here only wires: it validates inputs, asks DuckDB for each output view and
streams the rows to parquet in fixed-size row groups (bytes independent of DuckDB's
thread scheduling), then renders stats into the report.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data import __version__
from prover_data.atomic import atomic_dir, exclusive, recover
from prover_data.errors import InputError
from prover_data.identity import file_digest
from prover_data.lock import Lock, input_entries, package_versions, sql_hashes
from prover_data.manifest import Manifest
from prover_data.schema import OUTPUTS

ROW_GROUP = 65536
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True, write_statistics=True)
STAGES = ("hash inputs", "validate inputs", "write datasets", "statistics", "eval sets", "report", "lock")


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
    from prover_data.views import sql_files

    out = build_dir(manifest, build_root)
    step = _Stages(progress)
    with exclusive(Path(build_root) / f".{manifest.name}.lock", wait=wait, what=f"build {out}"):
        recover(out)
        step("hash inputs")
        lock = Lock(
            manifest={"name": manifest.name, "file": manifest.path.name, "hash": manifest.digest()},
            inputs=input_entries(manifest),
            sql=sql_hashes(sql_files()),
            versions=package_versions(),
        )
        previous = out / "lock.json"
        if not force and previous.is_file():
            old = Lock.read(previous)
            if old.fingerprint() == lock.fingerprint() and old.outputs_intact(out):
                _ensure_views_db(out)
                step.finish()
                return BuildResult(manifest.name, out, True, json.loads((out / "stats.json").read_text()), old)

        step("validate inputs")
        inputs = _validate(manifest)
        lock.inputs = [_with_rows(e, inputs.rows) for e in lock.inputs]

        with atomic_dir(out) as tmp:
            con = _work_connection(manifest, inputs, tmp / ".work")
            step("write datasets")
            for name, schema in OUTPUTS.items():
                rows = _write_parquet(con, f"SELECT * FROM out_{name}", tmp / f"{name}.parquet", schema)
                lock.outputs[name] = {"file": f"{name}.parquet", "rows": rows}

            step("statistics")
            stats = _stats(con, manifest, inputs)
            step("eval sets")
            for hook in EVAL_HOOKS:
                hook(manifest, con, tmp, stats, lock)

            step("report")
            from prover_data.report import plots, render

            stats["plots"] = plots(stats, tmp / "plots")
            (tmp / "report.md").write_text(render(stats), encoding="utf-8")
            (tmp / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            for entry in lock.outputs.values():
                entry["hash"] = file_digest(tmp / entry["file"])
            lock.outputs["report"] = {"file": "report.md", "rows": None, "hash": file_digest(tmp / "report.md")}

            step("lock")
            (tmp / "lock.json").write_text(lock.to_json(), encoding="utf-8")
            con.close()
            shutil.rmtree(tmp / ".work")
        _ensure_views_db(out)
        step.finish()
        return BuildResult(manifest.name, out, False, stats, lock)


# Extension points run after the datasets are written, inside the temporary build
# directory: hook(manifest, connection, tmp_dir, stats, lock). Eval sets and their
# contamination audit register here.
EVAL_HOOKS: list[Callable] = []


class _Stages:
    """One progress task advancing through STAGES."""

    def __init__(self, progress):
        self.progress = progress
        self.task = progress.add_task("build", total=len(STAGES)) if progress else None
        self.done = 0

    def __call__(self, stage: str) -> None:
        if self.progress is None:
            return
        if self.done:
            self.progress.advance(self.task)
        self.done += 1
        self.progress.update(self.task, description=stage)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=len(STAGES), description="done")


# --------------------------------------------------------------------------- inputs


@dataclass
class _Inputs:
    rows: dict[str, int]  # relative path -> rows
    base_pairs: pa.Table | None
    sizes: dict[str, int]


def _validate(manifest: Manifest) -> _Inputs:
    """Read and check every input; one InputError with every problem of every file."""
    import os

    from prover_data.sources import check_trajectory_file, read_leandojo, read_search_config, read_theorem_list

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
        info = attempt(check_trajectory_file, p)
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
            base = full.select(["theorem_name", "tactic_index", "state_pp", "tactic"])
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
    return _Inputs(rows, base, sizes)


def _with_rows(entry, rows: dict[str, int]):
    from dataclasses import replace

    return replace(entry, rows=rows.get(entry.path))


# --------------------------------------------------------------------------- outputs

# Views that several outputs and statistics read, computed once into temporary tables
# (the temp schema comes first in DuckDB's search path, so every view that names them
# reads the table). DuckDB offloads them to the spill directory past memory_limit, so
# a 10M-record build stays within a few GiB.
MATERIALIZED = ("trajectories", "theorem_split", "sft_candidates", "sft_pairs",
                "contrastive_negatives", "contrastive_samples", "states")
MEMORY_LIMIT = "2GB"


def _work_connection(manifest: Manifest, inputs: "_Inputs", work: Path):
    from prover_data.views import connect

    work.mkdir()
    con = connect(manifest, base_pairs=inputs.base_pairs)
    con.execute("SET threads = 2")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"SET temp_directory = '{(work / 'spill').as_posix()}'")
    for view in MATERIALIZED:
        con.execute(f"CREATE TEMP TABLE {view} AS SELECT * FROM main.{view}")
    return con


def _write_parquet(con, query: str, path: Path, schema: pa.Schema) -> int:
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
        if pending_rows or total == 0:
            writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=ROW_GROUP)
            total += pending_rows
    return total


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """DuckDB's Arrow types (blob, varchar views) cast to the contract's types, checked."""
    if batch.schema.names != schema.names:
        raise RuntimeError(f"output columns {batch.schema.names} differ from the contract {schema.names}")
    arrays = [batch.column(i).cast(field.type) for i, field in enumerate(schema)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _ensure_views_db(out: Path) -> None:
    """``views.duckdb``: views over the outputs, so ``duckdb build/NAME/views.duckdb`` works.

    DuckDB checks a view's files when the view is created, so the file is made after
    the build directory is in place, under a temporary name renamed into place. It
    names the outputs by absolute path; it is a convenience, outside the lock.
    """
    import os

    import duckdb

    final = out / "views.duckdb"
    if final.is_file():
        return
    tmp = out / f".views.duckdb.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    for name in OUTPUTS:
        target = (out.resolve() / f"{name}.parquet").as_posix().replace("'", "''")
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{target}')")
    con.close()
    os.replace(tmp, final)


# --------------------------------------------------------------------------- stats


def _stats(con, manifest: Manifest, inputs: _Inputs) -> dict:
    """Every figure of the report, from the views."""
    files = [dict(zip(("file_order", "source", "total", "positive", "usable", "empty", "sorry", "dup"), r))
             for r in con.execute("SELECT * FROM sft_file_stats").fetchall()]
    for f in files:
        f["file"] = f"{f['source']}.parquet"
        f["size_bytes"] = inputs.sizes.get(f["source"], 0)
    agree = dict(zip(("usable_parent", "usable_compat", "only_parent", "only_compat"),
                     con.execute("SELECT * FROM pairing_agreement").fetchone()))
    by_split = dict(con.execute(
        "SELECT split || ':' || (source = 'base')::INT, count(*) FROM sft_pairs GROUP BY ALL").fetchall())
    base_usable_train = con.execute(
        "SELECT count(*) FROM base_pairs_classified WHERE status = 'usable' AND split = 'train'").fetchone()[0]
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
        "base_usable_train": base_usable_train,
        "base_subsample": bp.subsample if bp else None,
        "pairing_agreement": agree,
    }
    sft["combined_train"] = sft["trajectory_train"] + sft["base_train"]
    sft["combined_val"] = sft["trajectory_val"] + sft["base_val"]

    cols = ("split", "records", "eligible_theorems", "eligible_positive_records", "sibling_negatives",
            "non_sibling_negatives", "total_negatives", "siblings_file_rule", "siblings_theorem_rule")
    contrastive = {r[0]: dict(zip(cols[1:], r[1:])) for r in con.execute("SELECT * FROM contrastive_stats").fetchall()}
    c = manifest.contrastive
    samples = dict(con.execute("SELECT split, count(*) FROM contrastive_samples GROUP BY ALL").fetchall())
    tiers = dict(con.execute("SELECT t, count(*) FROM (SELECT unnest(neg_tiers) AS t FROM contrastive_samples) GROUP BY ALL").fetchall())
    hard = round(c.k_negatives * c.hard_ratio)
    medium = round(c.k_negatives * c.medium_ratio)
    contrastive.update({
        "k": c.k_negatives, "rounds": c.rounds, "sibling_scope": c.sibling_scope,
        "positive_states": c.positive_states,
        "quotas": {"hard": hard, "medium": medium, "easy": c.k_negatives - hard - medium},
        "samples": {"train": samples.get("train", 0), "val": samples.get("val", 0), "tiers": tiers},
    })
    unique_states = con.execute("SELECT count(*) FROM states").fetchone()[0]
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
            "unique_states": unique_states,
            "dim": emb.dim if emb else None,
            "note": f"cache coverage: `prover-data embeddings status {manifest.name}`" if emb else None,
        },
    }
    if manifest.sources.search_config is not None:
        stats["search_config_text"] = manifest.resolve(manifest.sources.search_config).read_text(encoding="utf-8")
    return stats
