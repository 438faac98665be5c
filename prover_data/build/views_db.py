"""``views.duckdb``: views over a build's outputs, so ``duckdb build/NAME/views.duckdb`` works.

The views name the outputs by absolute path (DuckDB resolves a relative path against
the working directory, not the database file), so the file is made after the build
directory is in place and remade when the directory has moved: a marker beside it
records the directory its views point into, which an up-to-date build checks without
opening DuckDB. Both are a convenience outside the lock and outside the
byte-determinism promise (a DuckDB database file is not byte-reproducible).

They are written into the finished build directory, so their temporaries are made beside
it, not in it: a kill -9 while they are written leaves the build's own files exactly as
they were, and the next writer's ``atomic.recover`` removes what it left.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterable

from prover_data.build.files import Build, output_file

MARKER = ".views.duckdb.dir"


def ensure_views_db(build: Build, outputs: Iterable[str]) -> None:
    """One view per output (of ``schema.OUTPUTS``, in the finished ``build``) in ``build.views_db``."""
    out = build.dir
    here = out.resolve().as_posix()
    final, marker = build.views_db, out / MARKER
    if final.is_file() and marker.is_file() and marker.read_text(encoding="utf-8") == here:
        return
    import duckdb

    tmp = _temporary(out, "views")
    con = duckdb.connect(str(tmp))
    for name in outputs:
        target = f"{here}/{output_file(name)}".replace("'", "''")
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{target}')")
    con.close()
    os.replace(tmp, final)
    tmp = _temporary(out, "marker")
    tmp.write_text(here, encoding="utf-8")
    os.replace(tmp, marker)


def _temporary(out: Path, what: str) -> Path:
    """A fresh path beside ``out`` that ``atomic.recover(out)`` removes once its process is gone."""
    return out.parent / f".{out.name}.tmp-{what}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
