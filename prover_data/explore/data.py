"""A build loaded for the explorer, once, at start-up.

The manifest's views (``prover_data.views.connect``) are lazy: every query over them
parses the trajectory parquets again. The explorer instead reads the records once into
``explore_records`` and computes the per-theorem summary, the SFT classification under
both pairings and the build's samples into tables (``sql/0*.sql``,
``sql/sft_classified.sql``), so each request is a small query over tables.

The tables live in the main schema of one in-memory database: each request gets its
own cursor (a connection of that database), so concurrent requests never share one
connection. The build's own files (named by ``build.files.Build``) are only read: its
parquet outputs through ``read_parquet``, its lock through ``Build.lock``, its eval sets
as theorem lists; nothing under the build directory is written.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np

from prover_data.build.files import Build
from prover_data.errors import InputError
from prover_data.manifest import Manifest, load_manifest

SQL_DIR = Path(__file__).resolve().parent / "sql"
SETUP = ("00_records", "01_lists")  # then the lists are filled, then:
SUMMARY = ("03_outputs", "04_theorems", "sft_classified", "05_signals")


@lru_cache(maxsize=None)
def sql(name: str) -> str:
    """The text of ``sql/NAME.sql`` (one statement unless it is a set-up file)."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def find_build(name: str, data_root: str | Path | None, build_root: str | Path) -> Build:
    """The build of manifest ``name``; ``InputError`` when it has not been built."""
    build = Build(load_manifest(name, data_root), build_root)
    build.require(build.lock_file, build.stats_file, build.output("states"))
    return build


class ExploreData:
    """One build's data in DuckDB tables, plus its lock, statistics and vectors."""

    def __init__(self, files: Build, against: Build | None = None):
        from prover_data.views import connect

        self.manifest, self.files = files.manifest, files
        self.lock = files.lock
        self.con = connect(self.manifest, read_base_pairs=False, embedding_tier=False)
        for key, value in {
            "explore_contrastive_train": str(files.output("contrastive_train")),
            "explore_contrastive_val": str(files.output("contrastive_val")),
            "explore_sft_outputs": [str(files.output("sft_train")), str(files.output("sft_val"))],
            **{f"explore_{name}": str(files.output(name))
               for name in ("preferences_train", "preferences_val", "values_train", "values_val")},
        }.items():
            self.con.execute(f"SET VARIABLE {key} = ?", [value])
        for name in SETUP:
            self.con.execute(sql(name))
        self._read_lists()
        for name in SUMMARY:
            self.con.execute(sql(name))
        self.sources = [p.stem for p in self.manifest.trajectory_paths()]
        self.lists = [name for (name,) in self.con.execute(sql("lists_facet")).fetchall()]
        self.against = None if against is None else self._compare(against.manifest)
        self.vectors = Vectors.open(files.embeddings)
        self._cursors = self.con.cursor()  # requests' cursors come from here, never from self.con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own to the explorer's database, for one request."""
        return self._cursors.cursor()

    def _read_lists(self) -> None:
        m = self.manifest
        lists: list[tuple[str, str, Path]] = []
        if m.sources.theorem_index is not None:
            lists.append(("index", "theorem_index", m.resolve(m.sources.theorem_index)))
        lists += [("held_out", name, path) for name, path in m.held_out_paths().items()]
        lists += [("eval", path.stem, path) for path in self.files.eval_sets()]
        for kind, name, path in lists:
            try:
                self.con.execute(sql("02_list_insert"), {"kind": kind, "list": name, "path": str(path)})
            except duckdb.Error as e:
                raise InputError.one(str(path), f"not a theorem list ({{\"theorems\": [{{\"name\", \"statement\"}}]}}): "
                                                f"{str(e).splitlines()[0]}") from None

    def _compare(self, manifest: Manifest) -> str:
        """Load the theorems of the build compared against (from its inputs); returns its name."""
        from prover_data.views import connect

        other = connect(manifest, read_base_pairs=False, embedding_tier=False)
        try:
            table = other.sql(sql("other_theorems")).to_arrow_table()
        finally:
            other.close()
        self.con.register("explore_other_input", table)
        self.con.execute(sql("compare"))
        self.con.unregister("explore_other_input")
        return manifest.name


class Vectors:
    """The build's dense vector export (``prover-data embeddings export NAME``), for cosines.

    A state without a vector (an export older than the build) has no cosine rather
    than failing the page.
    """

    def __init__(self, dense):
        self.dense = dense

    @classmethod
    def open(cls, path: Path) -> "Vectors | None":
        if not (path / "meta.json").is_file():
            return None
        from prover_data.embeddings.dense import DenseEmbeddings

        return cls(DenseEmbeddings.open(path))

    def cosines_to_first(self, hashes: list[bytes]) -> list[float | None]:
        """Cosine of each state's vector to the first's; None where either has no vector."""
        rows = self.dense.lookup(hashes)
        if len(rows) == 0 or rows[0] < 0:
            return [None] * len(hashes)
        have = rows >= 0
        vectors = self.dense.gather(rows[have])
        norms = np.linalg.norm(vectors, axis=1)
        sims = vectors @ vectors[0] / np.maximum(norms * norms[0], np.finfo(np.float32).tiny)
        out: list[float | None] = [None] * len(hashes)
        for i, sim in zip(np.flatnonzero(have), sims):
            out[i] = float(sim)
        return out


def load(name: str, data_root: str | Path | None, build_root: str | Path, against: str | None = None) -> ExploreData:
    """The explorer's data for build ``name`` (and ``against``, both under ``build_root``)."""
    files = find_build(name, data_root, build_root)
    other = find_build(against, data_root, build_root) if against else None
    return ExploreData(files, other)
