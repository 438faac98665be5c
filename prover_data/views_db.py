"""``views.duckdb``: views over a build's outputs, so ``duckdb build/NAME/views.duckdb`` works.

The views name the outputs by absolute path (DuckDB resolves a relative path against
the working directory, not the database file), so the file is made after the build
directory is in place and remade when the directory has moved: a marker beside it
records the directory its views point into, which an up-to-date build checks without
opening DuckDB. Both are a convenience outside the lock and outside the
byte-determinism promise (a DuckDB database file is not byte-reproducible).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from prover_data.atomic import atomic_write_text

VIEWS_DB = "views.duckdb"
MARKER = ".views.duckdb.dir"


def ensure_views_db(out: Path, outputs: Iterable[str]) -> None:
    """One view per output (a ``NAME.parquet`` file of ``out``) in ``out/views.duckdb``."""
    here = out.resolve().as_posix()
    final, marker = out / VIEWS_DB, out / MARKER
    if final.is_file() and marker.is_file() and marker.read_text(encoding="utf-8") == here:
        return
    import duckdb

    tmp = out / f".{VIEWS_DB}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    for name in outputs:
        target = f"{here}/{name}.parquet".replace("'", "''")
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{target}')")
    con.close()
    os.replace(tmp, final)
    atomic_write_text(marker, here)
