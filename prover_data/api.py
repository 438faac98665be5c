"""``prover_data.open(NAME)``: an iteration's data as DuckDB relations.

Trainers, notebooks and ad-hoc scripts read one object: the manifest's input views
(``trajectories``, ``sft_pairs``, ``contrastive_samples``, ``states`` ... everything in
``sql/``) and, once built, the build's outputs (``sft_train``, ``contrastive_val`` ...),
each a lazy DuckDB relation with ``.pl()`` (polars), ``.arrow()`` (a pyarrow
RecordBatchReader in DuckDB 2; ``.to_arrow_table()`` for a Table) and ``.df()``.
Where a build output and a view share a name (``states``), the build output wins.

    ds = prover_data.open("iter_4", data_root="replica")
    ds.sft_train.pl()                       # the built output
    ds.sql("SELECT source, count(*) FROM trajectories GROUP BY ALL").pl()
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from prover_data.build.files import Build
from prover_data.manifest import Manifest, load_manifest


class Dataset:
    """The views of one manifest (inputs) plus its build outputs (when built)."""

    def __init__(self, manifest: Manifest, build_root: str | Path = "build"):
        from prover_data.views import connect

        self.manifest = manifest
        self.build = Build(manifest, build_root)
        self.con = connect(manifest)
        self.outputs: list[str] = []
        for name, path in self.build.outputs().items():
            if path.is_file():
                literal = path.resolve().as_posix().replace("'", "''")
                self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{literal}')")
                self.outputs.append(name)

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        return self.con.sql(query)

    def table(self, name: str) -> duckdb.DuckDBPyRelation:
        return self.con.table(name)

    def views(self) -> list[str]:
        return [r[0] for r in self.con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name").fetchall()]

    def __getattr__(self, name: str) -> duckdb.DuckDBPyRelation:
        if name.startswith("_") or name in ("manifest", "build", "con", "outputs"):
            raise AttributeError(name)
        if name not in self.views():
            raise AttributeError(f"no view or output named {name!r} (have: {', '.join(self.views())})")
        return self.con.table(name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.views()))


def open(name: str | Path, data_root: str | Path | None = None, build_root: str | Path = "build") -> Dataset:  # noqa: A001
    """The views and outputs of manifest ``name`` (a name in manifests/ or a .toml path)."""
    return Dataset(load_manifest(name, data_root), build_root)
