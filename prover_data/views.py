"""A DuckDB connection where a manifest's inputs are views, defined by ``sql/``.

All data work (filtering, dedup, split, sampling) is SQL in ``sql/NN_name.sql``, each
file one step (its views and table macros, most often one view), applied in file-name
order after the shared macros of ``sql/macros.sql``, then the report's statistics views
of ``sql/stats/``. This module only wires inputs in: it sets
DuckDB variables from the manifest (``getvariable('val_fraction')`` …) and fills the
input tables that are not files the SQL reads itself (base pairs, the embedding tier's
neighbours). Views are lazy, so a consumer that needs one view pays only for that view.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from prover_data.errors import InputError
from prover_data.manifest import Manifest
from prover_data.prompts import PROMPT_TEMPLATE
from prover_data.sql_files import define_macros, sql_dir, sql_files


def trajectory_sources(manifest: Manifest) -> list[str]:
    """Each trajectory file's source name, its stem (``iter_1``), in manifest order.

    Two files with one stem would make the per-source report ambiguous, so that is an
    input error.
    """
    stems = [p.stem for p in manifest.trajectory_paths()]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise InputError.one(
            str(manifest.path),
            f"two trajectory files share the name {', '.join(dupes)}; sources are named by file stem",
            key="sources.trajectories",
        )
    return stems


def variables(manifest: Manifest) -> dict[str, object]:
    """The manifest's settings as DuckDB variables, as the SQL files read them."""
    c = manifest.contrastive
    base = manifest.sources.base_pairs
    return {
        "trajectory_paths": [str(p) for p in manifest.trajectory_paths()],
        "trajectory_sources": trajectory_sources(manifest),
        "repeated_searches": manifest.sources.repeated_searches,
        "label_source": manifest.labels.source,
        "pairing": manifest.filters.pairing,
        "own_state_sources": list(manifest.filters.own_state_sources) or [""],
        "drop_empty": manifest.filters.drop_empty,
        "drop_sorry": manifest.filters.drop_sorry,
        "dedup": manifest.filters.dedup,
        "val_fraction": manifest.split.val_fraction,
        "split_seed": str(manifest.split.seed),
        "k_negatives": c.k_negatives,
        "hard_ratio": c.hard_ratio,
        "medium_ratio": c.medium_ratio,
        "easy_ratio": c.easy_ratio,
        "embedding_ratio": c.embedding_ratio,
        "contrastive_seed": str(c.seed),
        "rounds": c.rounds,
        "sibling_scope": c.sibling_scope,
        "positive_states": c.positive_states,
        "false_negatives": c.false_negatives,
        "preferences_rejected": manifest.preferences.rejected,
        "preferences_max_per_parent": manifest.preferences.max_per_parent,
        "preferences_seed": str(manifest.preferences.seed),
        "prompt_template": PROMPT_TEMPLATE,
        "base_subsample": -1 if base is None or base.subsample is None else base.subsample,
        "base_seed": str(base.seed if base else 0),
    }


def open_inputs(manifest: Manifest, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A connection with the manifest's settings, the shared macros and the (empty) input
    tables; the views come with ``define_input_views`` and ``define_views``.

    A build defines the input views once the files' footers are checked (DuckDB opens
    the files to define them), loads ``trajectories`` into a table, and only then
    defines the rest: views over a table bind several times faster than over the files.
    """
    con = duckdb.connect(database)
    for name, value in variables(manifest).items():
        con.execute(f"SET VARIABLE {name} = ?", [value])
    define_macros(con)
    con.execute((sql_dir() / "inputs" / "tables.sql").read_text(encoding="utf-8"))
    return con


def define_input_views(con: duckdb.DuckDBPyConnection) -> None:
    """The ``INPUT_VIEWS`` files: ``trajectory_files`` and ``trajectory_records`` over the parquet files."""
    for f in sql_files():
        if f.name.startswith(INPUT_VIEWS):
            con.execute(f.read_text(encoding="utf-8"))


def define_views(con: duckdb.DuckDBPyConnection) -> None:
    """Every other view of ``sql/``, in file-name order, then the statistics views
    (``sql_files``).

    Those files create their views ``WITH (DEFER_BINDING)``: a view is bound when it is
    read, not when it is defined. Binding each of ~50 stacked views at definition re-binds
    everything below it, which took a second per connection (a build, a query, each
    test); now a tenth of that. The views over the input files (``INPUT_VIEWS``) are
    still bound at once: that is where an unreadable file should say so.
    """
    for f in sql_files():
        if not f.name.startswith(INPUT_VIEWS):
            con.execute(f.read_text(encoding="utf-8"))


INPUT_VIEWS = "00_"  # sql/00_*.sql: the views over the input files themselves


def connect(manifest: Manifest, database: str = ":memory:", *,
            base_pairs: pa.Table | None = None, read_base_pairs: bool = True,
            embedding_tier: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection with every ``sql/`` view defined over ``manifest``'s inputs.

    The base pairs are ``base_pairs`` when given (``inputs.leandojo.read_leandojo``'s
    columns), else loaded from the manifest's file unless ``read_base_pairs`` is false
    (then empty). When the manifest turns the contrastive embedding tier on, its
    neighbours are searched here (a faiss pass over the store's vectors) unless
    ``embedding_tier`` is false, for connections that never read ``contrastive_samples``.
    """
    from prover_data.embeddings.negative_tier import EmbeddingTier
    from prover_data.inputs.leandojo import load_base_pairs

    con = open_inputs(manifest, database)
    define_input_views(con)
    define_views(con)
    if base_pairs is not None:
        con.from_arrow(base_pairs.select(["theorem_name", "tactic_index", "state_pp", "tactic"])) \
            .insert_into("base_pairs_input")
    elif read_base_pairs and manifest.sources.base_pairs is not None:
        load_base_pairs(con, manifest.resolve(manifest.sources.base_pairs.path))
    if embedding_tier:
        EmbeddingTier(manifest).prepare(con)
    return con


def materialize(con: duckdb.DuckDBPyConnection, view: str) -> None:
    """Compute ``view`` once: its rows kept as a table every later reader of the view reads.

    A connection with a database file attached as ``stored`` (a build whose inputs do
    not fit its memory, see ``build.work_connection``) keeps the table there, where
    DuckDB compresses it (state texts shrink several times) and pages it in and out of
    memory as blocks it never has to write twice; the view is redefined to read it.
    Otherwise the table is a temporary one in memory, which the view's name finds first.
    """
    stored = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = 'stored'").fetchall()[0][0]
    if stored:
        con.execute(f"CREATE TABLE stored.{view} AS SELECT * FROM main.{view}")
        con.execute(f"CREATE OR REPLACE VIEW main.{view} AS SELECT * FROM stored.{view}")
    else:
        con.execute(f"CREATE TEMP TABLE {view} AS SELECT * FROM main.{view}")
