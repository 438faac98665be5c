"""A build's inputs, read once and checked in the same pass.

Every input is validated before anything is written, and every problem of every file
is reported together (``InputError``). What costs time is reading, so each input is
read once, by whatever uses it:

* trajectory parquets: their footers first (a file that is not parquet, lacks a
  column or has none of its rows is refused before DuckDB opens it); then DuckDB
  loads them into the ``trajectory_records`` table the views read, and the value and tree
  rules are counted per file on that table (``inputs.trajectories.files_with_problems``)
  while Python reads the theorem lists. Only a file with a count, or every file when
  DuckDB cannot read them, is read a second time, by the validator that names each
  problem;
* the LeanDojo base pairs: DuckDB's JSON reader into ``base_pairs_input``
  (``inputs.leandojo.load_base_pairs``), on a cursor of its own beside the
  trajectories: one JSON array is parsed on one core, which the trajectories' checks
  leave partly idle;
* theorem index, held-out lists and search config: the Python readers, once; the
  eval sets and the report take the tables from here.

Files validated by an earlier build (``validation_cache``) skip their checks.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from prover_data.build.validation_cache import ValidationCache
from prover_data.errors import InputError, Problem
from prover_data.inputs.leandojo import load_base_pairs
from prover_data.manifest import Manifest


@dataclass
class Inputs:
    """What reading the inputs learned: rows per input (path relative to the data root),
    sizes of trajectory files by source, and the theorem lists, read once."""

    rows: dict[str, int]
    sizes: dict[str, int]
    theorem_index: pa.Table | None
    held_out: dict[str, pa.Table]
    checked: list[str] = field(default_factory=list)  # inputs validated this time (the others were known clean)


def load_inputs(con: duckdb.DuckDBPyConnection, manifest: Manifest, digests: dict[Path, str],
                cache: ValidationCache) -> Inputs:
    """Load the trajectories and base pairs into ``con`` and read the lists; raise one
    ``InputError`` with every problem of every input. ``digests``: content hash by path."""
    rel = lambda p: os.path.relpath(p, manifest.root)  # noqa: E731
    problems: list[Problem] = []
    checked: list[Path] = []
    trajectories = _Trajectories(con, manifest, digests, cache)
    problems += trajectories.start()
    base_pairs = None
    if manifest.sources.base_pairs is not None:
        path = manifest.resolve(manifest.sources.base_pairs.path)
        base_pairs = _BasePairs(con, path, cache, digests[path])
    lists = _read_lists(manifest, problems)
    problems += trajectories.finish()
    checked += trajectories.checked
    rows = {rel(p): n for p, n in trajectories.rows().items()}
    if base_pairs is not None:
        try:
            rows[rel(base_pairs.path)] = base_pairs.finish()
        except InputError as e:
            problems += e.problems
        if not base_pairs.known:
            checked.append(base_pairs.path)
    if problems:
        raise InputError(problems)
    for path, table in lists.items():
        rows[rel(path)] = table.num_rows
        checked.append(path)
    if manifest.sources.search_config is not None:
        checked.append(manifest.resolve(manifest.sources.search_config))
    trajectories.remember()
    if base_pairs is not None:
        base_pairs.remember()
    index = manifest.resolve(manifest.sources.theorem_index) if manifest.sources.theorem_index else None
    return Inputs(rows, {p.stem: p.stat().st_size for p in manifest.trajectory_paths()},
                  lists.get(index), {n: lists[p] for n, p in manifest.held_out_paths().items()},
                  [rel(p) for p in checked])


class _Trajectories:
    """The trajectory files: footers checked, loaded by DuckDB on a thread of its own
    (the GIL is released while it works) and checked there, slow path on a problem."""

    def __init__(self, con, manifest: Manifest, digests: dict[Path, str], cache: ValidationCache):
        self.con, self.manifest, self.cache = con, manifest, cache
        self.mode = manifest.sources.repeated_searches
        self.paths = manifest.trajectory_paths()
        self.digests = [digests[p] for p in self.paths]
        self.known = [i for i, d in enumerate(self.digests) if cache.known("trajectory", d, self.mode)]
        self.checked = [p for i, p in enumerate(self.paths) if i not in self.known]
        self._outcome: dict = {}
        self._thread: threading.Thread | None = None

    def start(self) -> list[Problem]:
        from prover_data.inputs.trajectories import footer_problems

        problems = [q for p in self.checked for q in footer_problems(p)]
        if not problems:
            self._thread = threading.Thread(target=self._load, name="load trajectories")
            self._thread.start()
        return problems

    def _load(self) -> None:
        from prover_data.inputs.trajectories import files_with_problems
        from prover_data.views import define_input_views, materialize

        try:
            define_input_views(self.con)
            materialize(self.con, "trajectory_records")
            self._outcome["bad"] = files_with_problems(self.con, self.mode, self.known)
        except duckdb.Error as e:  # a value DuckDB cannot read as the views' types
            self._outcome["error"] = e
            self._outcome["bad"] = [i for i in range(len(self.paths)) if i not in self.known]
        except BaseException as e:  # a bug: raised again on the build's own thread
            self._outcome["crash"] = e

    def finish(self) -> list[Problem]:
        """The problems of the files the scan found wrong, named by the full validator."""
        from prover_data.inputs.trajectories import validate_trajectory_file

        if self._thread is None:
            return []
        self._thread.join()
        if "crash" in self._outcome:
            raise self._outcome["crash"]
        problems = [q for i in self._outcome["bad"]
                    for q in validate_trajectory_file(self.paths[i], self.mode)[1]]
        if self._outcome["bad"] and not problems:
            raise RuntimeError(f"the build's checks of {[str(self.paths[i]) for i in self._outcome['bad']]} "
                               f"disagree with the validator") from self._outcome.get("error")
        return problems

    def rows(self) -> dict[Path, int]:
        """Rows per file, from the loaded table; none when the load failed (the files'
        problems are then the build's answer, and the views would read them again)."""
        if self._thread is None or "error" in self._outcome:
            return {}
        counts = dict(self.con.execute("SELECT file_order, count(*) FROM trajectory_records GROUP BY ALL").fetchall())
        return {p: counts.get(i, 0) for i, p in enumerate(self.paths)}

    def remember(self) -> None:
        for i, digest in enumerate(self.digests):
            if i not in self.known:
                self.cache.remember("trajectory", digest, self.mode)


class _BasePairs:
    """The LeanDojo file, read and checked by DuckDB on a cursor and a thread of their own,
    so its single-core JSON parse runs while the trajectories load and are checked."""

    def __init__(self, con, path: Path, cache: ValidationCache, digest: str):
        self.con, self.path, self.cache, self.digest = con, path, cache, digest
        self.known = cache.known("leandojo", digest)
        self._outcome: dict = {}
        self._thread = threading.Thread(target=self._load, name="load base pairs")
        self._thread.start()

    def _load(self) -> None:
        cursor = self.con.cursor()  # same database: base_pairs_input is shared, not temporary
        try:
            self._outcome["rows"] = load_base_pairs(cursor, self.path, checked=not self.known)
        except BaseException as e:  # an InputError, or a bug: raised again on the build's thread
            self._outcome["error"] = e
        finally:
            cursor.close()

    def finish(self) -> int:
        """The traced tactics now in ``base_pairs_input``; the file's ``InputError`` if any."""
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["rows"]

    def remember(self) -> None:
        self.cache.remember("leandojo", self.digest)


def _read_lists(manifest: Manifest, problems: list[Problem]) -> dict[Path, pa.Table]:
    """Theorem index and held-out lists (read once, for the eval sets too), search config."""
    from prover_data.inputs.search_config import read_search_config
    from prover_data.inputs.theorem_lists import read_theorem_list

    paths = list(manifest.held_out_paths().values())
    if manifest.sources.theorem_index is not None:
        paths.append(manifest.resolve(manifest.sources.theorem_index))
    out = {}
    for path in paths:
        try:
            out[path] = read_theorem_list(path)
        except InputError as e:
            problems += e.problems
    if manifest.sources.search_config is not None:
        try:
            read_search_config(manifest.resolve(manifest.sources.search_config))
        except InputError as e:
            problems += e.problems
    return out

