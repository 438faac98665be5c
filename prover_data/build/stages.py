"""``build-manifest``: run the views, write an iteration's datasets, lock and report.

A build is all-or-nothing: every output is written into a temporary sibling of
``build/NAME`` which replaces it only when complete (``atomic.atomic_dir``), so a
crash or ``kill -9`` at any point leaves the previous build readable. A lock file held
for the duration keeps two builds of one manifest from interleaving. Before any work
the inputs are hashed; if they, the manifest, the SQL files and the package versions
are what the existing lock records, and its outputs are intact, the build is a no-op.

``build`` reads as its stages (``STAGES``), each a function of the ``_Run``:

1. *hash inputs* -- content hashes of every input (and the embedding tier's vectors);
   equal to the lock's: done.
2. *read and check inputs* -- ``inputs.load_inputs``: DuckDB loads the
   trajectories and base pairs, every rule is checked in that same pass, the lists
   are read once; any problem of any input stops the build before a byte is written.
3. *views* -- the views several outputs and statistics read, computed once into
   temporary tables (``MATERIALIZED``); the embedding tier finds its neighbours just
   before the samples are drawn from them.
4. *statistics* (``build.stats``; the report's plots are drawn, and the eval sets
   sampled, on a second thread from here on), 5. *write datasets* (``outputs``),
   6. *eval sets*, written and audited against the datasets (``evaluation.sets``), 7. the
   embedding store's *coverage* of the states (counted on the second thread during
   6), 8. *report*, 9. *lock*.

Each stage that finds figures keeps them as its own value in the ``_Run``;
``record`` assembles ``stats.json`` and the lock's outputs from them (stages 8
and 9). Every file is named by ``build.files.Build``.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from prover_data.atomic import atomic_dir, exclusive, recover
from prover_data.build.files import Build
from prover_data.build.lock import Lock, input_entries, package_versions, sql_hashes
from prover_data.embeddings.negative_tier import EmbeddingTier
from prover_data.manifest import Manifest
from prover_data.schema import OUTPUTS

# Views read by several outputs and statistics, computed once into temporary tables
# (the temp schema comes first in DuckDB's search path, so every view that names them
# reads the table; ``trajectory_records`` is loaded with the inputs). DuckDB offloads them to
# the spill directory past MEMORY_LIMIT: a 10M-record build (scale 16) fits in a few GiB.
MATERIALIZED = ("trajectory_links", "trajectory_distances", "theorem_split", "sft_candidates", "sft_status", "contrastive_negative_records",
                "contrastive_negative_order", "contrastive_samples", "states", "base_pairs_classified", "sft_pairs",
                "preference_pairs", "value_target_figures")
MEMORY_LIMIT_MB = int(os.environ.get("PROVER_DATA_MEMORY_LIMIT_MB", "1536"))
WRITE_MEMORY_LIMIT_MB = MEMORY_LIMIT_MB * 2 // 3
THREADS = int(os.environ.get("PROVER_DATA_THREADS", "0")) or min(os.cpu_count() or 1, 8)
WORK = ".work"  # the build's scratch inside its temporary directory: DuckDB's spill, the stored views


@dataclass(frozen=True)
class BuildResult:
    name: str
    out_dir: Path
    up_to_date: bool
    stats: dict
    lock: Lock
    checked: tuple[str, ...] = ()  # inputs validated by this build (the others were known clean)


@dataclass
class _Run:
    """One build in progress: what each stage reads, and each stage's part of the record."""

    manifest: Manifest
    build: Build  # where the build goes
    staged: Build  # the same, in the temporary directory that replaces it when complete
    lock: Lock
    tier: EmbeddingTier
    beside: ThreadPoolExecutor  # one thread for Python work that overlaps DuckDB's
    con: object = None  # duckdb connection
    inputs: object = None  # inputs.Inputs
    views: object = None  # build.stats.ViewFigures: the statistics stage's part
    tier_stats: dict | None = None  # the embedding tier's report (None when it is off)
    written: dict[str, int] = field(default_factory=dict)  # rows of each dataset written
    evals: object = None  # evaluation.sets.EvalSetsWritten, or None without eval sets and audit lists
    stats: dict | None = None  # stats.json, assembled by the report stage
    plots: Future | None = None  # the report's plots, drawn while the datasets are written
    eval_sets: Future | None = None  # evaluation.sets.BuildEvalSets, sampled then too
    coverage: Future | None = None  # coverage.BuildCoverage, counted beside the eval sets' audit


def build(manifest: Manifest, build_root: str | Path = "build", *, force: bool = False, wait: bool = False,
          progress=None) -> BuildResult:
    """Build ``manifest`` into ``build_root/NAME`` unless it is already up to date."""
    target = Build(manifest, build_root)
    out = target.dir
    stages = _Stages(progress)
    with exclusive(target.mutex, wait=wait, what=f"build {out}"):
        recover(out)
        with stages("hash inputs"):
            tier = EmbeddingTier(manifest)
            lock = Lock(manifest={"name": manifest.name, "file": manifest.path.name, "hash": manifest.digest()},
                        inputs=input_entries(manifest) + tier.lock_entries(), sql=sql_hashes(),
                        versions=package_versions())
            previous = _previous(target, lock, force)
            if previous is not None:
                stages.skip_rest()
                return BuildResult(manifest.name, out, True, target.stats, previous)
        with atomic_dir(out) as tmp, ThreadPoolExecutor(max_workers=1) as beside:
            beside.submit(_import_late_modules, manifest)  # while DuckDB reads the inputs
            run = _Run(manifest, target, target.staged(tmp), lock, tier, beside=beside)
            for name, stage in STAGES:
                with stages(name) as advance:
                    stage(run, advance)
        _views_db(target, lock)
        return BuildResult(manifest.name, out, False, run.stats, lock, tuple(run.inputs.checked))


def _previous(target: Build, lock: Lock, force: bool) -> Lock | None:
    """The existing build's lock when it was made from exactly this and is intact."""
    if force or not target.lock_file.is_file() or not target.stats_file.is_file():
        return None
    old = target.lock
    if old.fingerprint() == lock.fingerprint() and old.outputs_intact(target.dir):
        _views_db(target, old)
        return old
    return None


# --------------------------------------------------------------------------- stages


def _views_db(target: Build, lock: Lock) -> None:
    from prover_data.build.views_db import ensure_views_db

    ensure_views_db(target, [name for name in lock.outputs if name in OUTPUTS])


# The stages import what they use: an up-to-date build imports none of it.


def _read_inputs(run: _Run, advance) -> None:
    from prover_data.build.inputs import load_inputs
    from prover_data.build.validation_cache import ValidationCache
    from prover_data.views import define_views

    run.con = work_connection(run.manifest, run.staged.dir / WORK)
    digests = {run.manifest.resolve(e.path): e.hash for e in run.lock.inputs if e.role != "embeddings"}
    run.inputs = load_inputs(run.con, run.manifest, digests, ValidationCache(run.build.root))
    define_views(run.con)
    run.lock.inputs = [e if e.role == "embeddings" else replace(e, rows=run.inputs.rows.get(e.path))
                       for e in run.lock.inputs]


def _views(run: _Run, advance) -> None:
    from prover_data.views import materialize

    for view in MATERIALIZED:
        if view == "contrastive_samples":
            run.tier.prepare(run.con)
        materialize(run.con, view)


def _write_datasets(run: _Run, advance) -> None:
    from prover_data.build.outputs import write_outputs

    # The encoder thread holds row groups beside DuckDB's sorts here, so DuckDB gets
    # less: at scale 16 the build's peak RSS fell from 3.0 to 2.5 GiB, no slower.
    run.con.execute(f"SET memory_limit = '{WRITE_MEMORY_LIMIT_MB}MB'")
    run.written = write_outputs(run.con, run.staged, advance)


def _statistics(run: _Run, advance) -> None:
    from prover_data.build.record import view_statistics
    from prover_data.build.report import plots
    from prover_data.build.stats import collect_stats
    from prover_data.evaluation.sets import BuildEvalSets, training_theorems

    run.views = collect_stats(run.con, run.manifest, run.inputs.sizes)
    run.tier_stats = run.tier.stats()
    training = training_theorems(run.con)  # on both cores, before the plots take one
    run.plots = run.beside.submit(plots, view_statistics(run.manifest, run.views, run.tier_stats), run.staged.plots)
    sets = BuildEvalSets(run.manifest, training, run.inputs.theorem_index, run.inputs.held_out)
    run.eval_sets = run.beside.submit(sets.sample)


def _eval_sets(run: _Run, advance) -> None:
    from prover_data.embeddings.coverage import build_coverage

    # Both read the written datasets on one core each: the store's coverage runs beside the audit.
    run.coverage = run.beside.submit(build_coverage, run.manifest, run.con, run.staged)
    run.evals = run.eval_sets.result().finish(run.staged)


def _embedding_coverage(run: _Run, advance) -> None:
    run.coverage.result()


def _report(run: _Run, advance) -> None:
    from prover_data.build.record import statistics
    from prover_data.build.report import render

    run.stats = statistics(run.manifest, run.views, run.tier_stats, run.evals, run.coverage.result(),
                           run.plots.result())
    run.staged.report.write_text(render(run.stats), encoding="utf-8")
    run.staged.stats_file.write_text(json.dumps(run.stats, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _lock(run: _Run, advance) -> None:
    from prover_data.build.record import lock_outputs

    run.lock.outputs = lock_outputs(run.staged, run.written, run.evals)
    run.staged.lock_file.write_text(run.lock.to_json(), encoding="utf-8")
    run.con.close()
    shutil.rmtree(run.staged.dir / WORK)


def _import_late_modules(manifest: Manifest) -> None:
    """What the last stages import (the plots' matplotlib, the encoder lookup's
    huggingface_hub) takes tenths of a second: better spent beside DuckDB's reading."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401

    if manifest.embeddings is not None:
        import huggingface_hub  # noqa: F401


STAGES: tuple[tuple[str, Callable[[_Run, Callable[[int], None]], None]], ...] = (
    ("read and check inputs", _read_inputs),
    ("views", _views),
    ("statistics", _statistics),
    ("write datasets", _write_datasets),
    ("eval sets", _eval_sets),
    ("embedding coverage", _embedding_coverage),
    ("report", _report),
    ("lock", _lock),
)


def work_connection(manifest: Manifest, work: Path):
    """The build's DuckDB connection over the manifest's inputs, spilling under ``work``;
    ``views.define_views`` adds the views once the inputs are loaded.

    When the trajectories (their size uncompressed, from the parquet footers) would take
    more than half of ``MEMORY_LIMIT_MB``, a database file under ``work`` is attached as
    ``stored`` for the materialized views (``views.materialize``): kept compressed on
    disk, they are read back at disk speed, where uncompressed temporary tables would
    spill and be written and read again at every stage.
    """
    import pyarrow.parquet as pq

    from prover_data.views import open_inputs

    work.mkdir(parents=True, exist_ok=True)
    con = open_inputs(manifest)
    con.execute(f"SET threads = {THREADS}")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT_MB}MB'")
    size = 0
    for path in manifest.trajectory_paths():
        try:
            meta = pq.read_metadata(path)
        except (OSError, ValueError):  # not a parquet file: the input checks say so
            continue
        size += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > MEMORY_LIMIT_MB * 2**20 / 2:
        con.execute(f"ATTACH '{(work / 'stored.duckdb').as_posix()}' AS stored")
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"SET temp_directory = '{(work / 'spill').as_posix()}'")
    return con


class _Stages:
    """One progress line per stage, each filled when its stage ends.

    ``with stages(name) as advance`` marks a stage; ``advance(n)`` moves its bar by
    rows written (the write stage), otherwise the line fills when the stage ends.
    """

    def __init__(self, progress):
        self.progress = progress

    def __call__(self, name: str):
        return _Stage(self.progress, name)

    def skip_rest(self) -> None:
        if self.progress is not None:
            self.progress.add_task("up to date", total=1, completed=1)


class _Stage:
    def __init__(self, progress, name: str):
        self.progress, self.name = progress, name
        self.task = None

    def __enter__(self) -> Callable[[int], None]:
        if self.progress is not None:
            self.task = self.progress.add_task(self.name, total=None)
        return self.advance

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)

    def __exit__(self, exc_type, *_) -> None:
        if self.task is not None and exc_type is None:
            self.progress.update(self.task, total=1, completed=1)
