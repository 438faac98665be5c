"""A DuckDB connection where a manifest's inputs are views, defined by ``sql/``.

All data work (filtering, dedup, split, sampling) is SQL in ``sql/NN_name.sql``, one
view per file, applied in file-name order. This module only wires inputs in: it sets
DuckDB variables from the manifest (``getvariable('val_fraction')`` …) and registers
the table of trajectory files. Views are lazy, so a consumer that needs one view pays
only for that view.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from prover_data.errors import InputError
from prover_data.manifest import Manifest
from prover_data.sql_files import sql_files


def trajectory_files_table(manifest: Manifest) -> pa.Table:
    """One row per trajectory file in manifest order: ``file_order``, ``source``, ``path``.

    ``source`` is the file stem (``iter_1``); two files with one stem would make the
    per-source report ambiguous, so that is an input error.
    """
    paths = manifest.trajectory_paths()
    stems = [p.stem for p in paths]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise InputError.one(
            str(manifest.path),
            f"two trajectory files share the name {', '.join(dupes)}; sources are named by file stem",
            key="sources.trajectories",
        )
    return pa.table(
        {
            "file_order": pa.array(range(len(paths)), pa.int32()),
            "source": pa.array(stems, pa.string()),
            "path": pa.array([str(p) for p in paths], pa.string()),
        }
    )


def variables(manifest: Manifest) -> dict[str, object]:
    """The manifest's settings as DuckDB variables, as the SQL files read them."""
    c = manifest.contrastive
    base = manifest.sources.base_pairs
    return {
        "trajectory_paths": [str(p) for p in manifest.trajectory_paths()],
        "repeated_searches": manifest.sources.repeated_searches,
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
        "base_subsample": -1 if base is None or base.subsample is None else base.subsample,
        "base_seed": str(base.seed if base else 0),
    }


EMPTY_BASE_PAIRS = pa.schema([("theorem_name", pa.string()), ("tactic_index", pa.int32()),
                              ("state_pp", pa.string()), ("tactic", pa.string())])


def base_pairs_table(manifest: Manifest) -> pa.Table:
    """The manifest's base tactic pairs (LeanDojo), or an empty table of the same shape."""
    from prover_data.inputs.leandojo import read_leandojo

    base = manifest.sources.base_pairs
    if base is None:
        return EMPTY_BASE_PAIRS.empty_table()
    return read_leandojo(manifest.resolve(base.path))


def register_base_pairs(con: duckdb.DuckDBPyConnection, table: pa.Table | None) -> None:
    """Make ``table`` (``inputs.leandojo.read_leandojo``'s columns) the ``base_pairs_input`` of ``con``.

    Views bind names when queried, so this may replace the table after the views exist.
    """
    table = EMPTY_BASE_PAIRS.empty_table() if table is None else table.select(EMPTY_BASE_PAIRS.names)
    con.register("base_pairs_input", table)


def connect(manifest: Manifest, database: str = ":memory:", *,
            base_pairs: pa.Table | None = None, read_base_pairs: bool = True,
            embedding_tier: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection with every ``sql/`` view defined over ``manifest``'s inputs.

    ``base_pairs`` passes an already-read base pairs table (the build reads and
    validates it once); by default it is read from the manifest's file, unless
    ``read_base_pairs`` is false (then it is empty until ``register_base_pairs``).
    When the manifest turns the contrastive embedding tier on, its neighbours are
    searched here (a faiss pass over the store's vectors) unless ``embedding_tier`` is
    false, for connections that never read ``contrastive_samples``.
    """
    from prover_data.embeddings import negative_tier

    con = duckdb.connect(database)
    for name, value in variables(manifest).items():
        con.execute(f"SET VARIABLE {name} = ?", [value])
    con.register("trajectory_files", trajectory_files_table(manifest))
    if base_pairs is None and read_base_pairs:
        base_pairs = base_pairs_table(manifest)
    register_base_pairs(con, base_pairs)
    negative_tier.register(con, None)
    for f in sql_files():
        con.execute(f.read_text(encoding="utf-8"))
    if embedding_tier and negative_tier.enabled(manifest):
        negative_tier.register(con, negative_tier.neighbours(con, negative_tier.pin(manifest)))
    return con
