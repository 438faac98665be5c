"""Validated readers of every input format.

Other programs write our inputs: BurnQED's search (trajectory parquet, embeddings
parquet, theorem lists, whole-proof samples, search config) and LeanDojo's tracer
(Benchmark 4 JSON). A file that is subtly wrong -- a mistyped column, a dangling
parent, a truncated write -- must stop the pipeline with a message a person can act
on, not become a silently smaller dataset (BurnQED's loader logs and skips a file it
cannot read). So every reader checks the whole file, collects *every* problem and
raises one ``InputError``. A problem names the file, the row (0-based; for JSON the
index of the entry in its list) or a run of consecutive rows, and the column or key.
A rule broken in many places is reported as its first few row runs plus one line
counting the rest, never one line per row.

Trajectory parquet rules (``schema.TRAJECTORY``; extra columns are allowed):

* *Types.* Strings may be ``string``, ``large_string``, ``string_view`` or
  dictionary-encoded strings; ``binary`` is not text and is refused. Integer columns
  accept any integer width if every value lies in the spec'd type's range (``int64``
  depths are fine while none is negative or above 2**32-1). Float columns accept any
  float width; ``is_proof_complete`` must be boolean. Anything else: ``wrong type``,
  naming expected and found type.
* *Values.* Only ``parent_state_id`` may be null, and it is null exactly at roots
  (``depth_from_root`` 0). Labels are ``positive``, ``negative`` or ``unknown``.
  ``remaining_depth`` is at least -1. The floats are finite (a NaN log-probability
  would poison every score computed from it). Text is valid UTF-8 and at most
  ``MAX_TEXT_BYTES`` per ``state_pp`` / ``tactic_applied``; theorem names are non-empty.
* *Tree.* ``(theorem_name, state_id)`` is unique in the file; a parent id names a
  node of the same theorem in the same file; a node's depth is its parent's + 1;
  parent links never loop. (With unique ids, existing parents and depth = parent
  depth + 1, a loop is impossible, so the loop search runs only when one of those
  rules failed.)
* *Files.* A 0-byte file, a file without parquet magic bytes, a truncated file
  (footer missing), a corrupt footer or data page, and a file with 0 rows are all
  errors: a search run that wrote nothing is a failed run, and skipping it silently is
  what this module exists to prevent.

Checks are vectorized (Arrow compute on dictionary values, DuckDB joins for the tree
in ``sql/checks/trajectory.sql``, numpy pointer jumping for loops): no Python loop
runs over the rows of a parquet file.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prover_data.errors import InputError, Problem
from prover_data.schema import BURNQED_EMBEDDINGS, LABELS, TRAJECTORY

MAX_TEXT_BYTES = 1 << 20  # a Lean goal or tactic over 1 MiB is a pretty-printer runaway
RUNS_SHOWN = 5  # row runs named per broken rule; the rest are counted in one more line
_CHECKS_SQL = "checks/trajectory.sql"
_TEXT_COLUMNS = [f.name for f in TRAJECTORY if pa.types.is_string(f.type)]
_SHOWN_CHARS = 80

KINDS = ("trajectory", "burnqed_embeddings", "theorem_list", "leandojo", "whole_proofs",
         "search_config", "manifest")


# --------------------------------------------------------------------------- collecting problems


class _Findings:
    """Problems of one file, grouped by rule.

    Row problems of one rule and column are merged into runs of consecutive rows;
    the first ``RUNS_SHOWN`` runs are named and the rest counted in one more problem.
    """

    def __init__(self, file: str):
        self.file = file
        self._groups: dict[tuple[str, str | None], dict] = {}
        self._whole: list[Problem] = []

    def __bool__(self) -> bool:
        return bool(self._groups or self._whole)

    def rows(self, check: str, column: str | None, message: str, rows,
             found: str | Callable[[int], str] | None = None) -> None:
        """Rows (an int or an array of ints) that break ``check`` in ``column``.

        ``found`` describes the offending value of the first row (a callable gets that row).
        """
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if rows.size == 0:
            return
        g = self._groups.get((check, column))
        if g is None:
            g = self._groups[(check, column)] = {"message": message, "parts": [], "found": found}
        g["parts"].append(rows)

    def whole(self, check: str, message: str, **where) -> None:
        """A problem of the file (or of a key) rather than of rows."""
        self._whole.append(Problem(self.file, message, check=check, **where))

    def problems(self) -> list[Problem]:
        out = list(self._whole)
        for (check, column), g in self._groups.items():
            rows = np.unique(np.concatenate(g["parts"]))
            found = g["found"](int(rows[0])) if callable(g["found"]) else g["found"]
            out += _runs(self.file, check, column, g["message"], rows, found)
        return out

    def raise_if_any(self) -> None:
        if self:
            raise InputError(self.problems())


def _runs(file: str, check: str, column: str | None, message: str, rows: np.ndarray,
          found: str | None) -> list[Problem]:
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = rows[np.r_[0, breaks + 1]]
    ends = rows[np.r_[breaks, rows.size - 1]]
    out = []
    for i, (s, e) in enumerate(zip(starts[:RUNS_SHOWN].tolist(), ends[:RUNS_SHOWN].tolist())):
        text = f"{message}; found {found}" if i == 0 and found is not None else message
        out.append(Problem(file, text, row=s, row_end=e if e != s else None, column=column,
                           count=e - s + 1, check=check))
    if starts.size > RUNS_SHOWN:
        named = int((ends[:RUNS_SHOWN] - starts[:RUNS_SHOWN] + 1).sum())
        more = starts.size - RUNS_SHOWN
        out.append(Problem(file, f"{message}; {more:,} more row range{'s' if more > 1 else ''} like this, "
                                 f"the last ending at row {int(rows[-1]):,}",
                           row=int(starts[RUNS_SHOWN]), column=column, count=rows.size - named, check=check))
    return out


def _shown(value: object) -> str:
    """A value as a message shows it: repr, cut to a readable length."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="backslashreplace")
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 4] + "...'"


# --------------------------------------------------------------------------- parquet files


def _open_parquet(path: Path) -> tuple[pq.ParquetFile | None, list[Problem]]:
    """Open a parquet file, or say precisely why it is not one."""
    name = str(path)
    if not path.exists():
        return None, [Problem(name, "no such file", check="no_file")]
    if not path.is_file():
        return None, [Problem(name, "not a regular file", check="no_file")]
    size = path.stat().st_size
    if size == 0:
        return None, [Problem(name, "empty file (0 bytes): expected a parquet file", check="empty_file")]
    with open(path, "rb") as f:
        head = f.read(4)
        f.seek(max(0, size - 4))
        tail = f.read(4)
    if head != b"PAR1":
        return None, [Problem(name, f"not a parquet file (it starts with {head!r}, not the magic bytes b'PAR1')",
                              check="not_parquet")]
    if size < 12 or tail != b"PAR1":
        return None, [Problem(name, f"truncated parquet file: the footer is missing ({size:,} bytes; "
                                    "was the write cut short?)", check="truncated")]
    try:  # no read-ahead: with pyarrow's default pre-buffering a batch-wise read holds ~1.25x the file
        return pq.ParquetFile(path, pre_buffer=False, buffer_size=8 << 20), []
    except (pa.ArrowException, OSError) as e:
        return None, [Problem(name, f"corrupt parquet file: its footer does not parse ({_arrow_error(e)})",
                              check="corrupt")]


def _is_string(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_string(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _type_ok(expected: pa.DataType, actual: pa.DataType) -> bool:
    if pa.types.is_string(expected):
        return _is_string(actual)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    if pa.types.is_floating(expected):
        return pa.types.is_floating(actual)
    if pa.types.is_list(expected):
        lists = pa.types.is_list(actual) or pa.types.is_large_list(actual) or pa.types.is_fixed_size_list(actual)
        return lists and pa.types.is_floating(actual.value_type)
    return actual == expected


def _column_problems(name: str, found: pa.Schema, spec: pa.Schema) -> list[Problem]:
    """Missing, repeated or mistyped spec'd columns (extra columns are fine)."""
    problems = []
    for f in spec:
        n = found.names.count(f.name)
        if n == 0:
            problems.append(Problem(name, f"missing column (expected {f.type})", column=f.name, check="missing_column"))
        elif n > 1:
            problems.append(Problem(name, f"column appears {n} times", column=f.name, check="repeated_column"))
        elif not _type_ok(f.type, actual := found.field(f.name).type):
            hint = " (bytes, not UTF-8 text)" if pa.types.is_binary(actual) or pa.types.is_large_binary(actual) else ""
            problems.append(Problem(name, f"wrong type: expected {f.type}, found {actual}{hint}",
                                    column=f.name, check="wrong_type"))
    return problems


def _read_columns(pf: pq.ParquetFile, name: str, columns: list[str]) -> tuple[pa.Table | None, list[Problem]]:
    """Read ``columns``; a corrupt data page is reported with the rows of its row group."""
    try:
        return pf.read(columns=columns), []
    except (pa.ArrowException, OSError) as e:
        error = e
    problems = []
    offset = 0
    for i in range(pf.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        for c in columns:
            try:
                pf.read_row_group(i, columns=[c])
            except (pa.ArrowException, OSError) as e:
                problems.append(Problem(name, f"corrupt parquet data in row group {i}: {_arrow_error(e)}", row=offset,
                                        row_end=offset + n - 1 if n > 1 else None, column=c, count=max(n, 1),
                                        check="corrupt"))
        offset += n
    return None, problems or [Problem(name, f"corrupt parquet data: {_arrow_error(error)}", check="corrupt")]


def _arrow_error(e: Exception) -> str:
    """An Arrow/Thrift error message on one printable line."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(e)).strip()
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------- vectorized value checks


def _bools(mask) -> np.ndarray:
    """A boolean (chunked) Arrow array as numpy; null counts as false."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _mask_rows(mask) -> np.ndarray:
    """Rows where a boolean (chunked) array is true; null counts as false."""
    return np.flatnonzero(_bools(mask))


def _text_value_rows(col: pa.ChunkedArray, bad_values: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
    """Rows whose text value is bad, testing each distinct value once.

    ``bad_values`` maps an array of values to a boolean numpy mask. Dictionary-encoded
    chunks are tested on their dictionary and mapped back to rows through the indices.
    """
    out = []
    offset = 0
    cache: dict[tuple, np.ndarray] = {}
    for chunk in col.chunks:
        if pa.types.is_dictionary(chunk.type):
            values, indices = chunk.dictionary, chunk.indices
        else:
            values, indices = chunk, None
        key = (tuple(b.address if b is not None else 0 for b in values.buffers()), values.offset, len(values))
        if key not in cache:
            cache[key] = np.flatnonzero(bad_values(values))
        bad = cache[key]
        if bad.size:
            if indices is None:
                rows = bad
            else:
                rows = _mask_rows(pc.is_in(indices, value_set=pa.array(bad, indices.type)))
            out.append(rows + offset)
        offset += len(chunk)
    return np.concatenate(out) if out else np.empty(0, np.int64)


def _invalid_utf8(values: pa.Array, block: int = 4096) -> np.ndarray:
    """Mask of values that are not valid UTF-8 (full validation in C, per block)."""
    mask = np.zeros(len(values), dtype=bool)
    try:
        values.validate(full=True)
        return mask
    except pa.ArrowInvalid:
        pass
    binary = values.cast(pa.large_binary() if pa.types.is_large_string(values.type) else pa.binary())
    for start in range(0, len(values), block):
        part = values.slice(start, block)
        try:
            part.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        for i, raw in enumerate(binary.slice(start, block).to_pylist()):
            if raw is not None:
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    mask[start + i] = True
    return mask


def _text_at(col: pa.ChunkedArray, row: int) -> object:
    """The raw value of a text column at ``row`` (bytes when it is not valid UTF-8)."""
    value = col.slice(row, 1).combine_chunks()
    if pa.types.is_dictionary(value.type):
        value = value.dictionary.take(value.indices)
    raw = value.cast(pa.large_binary() if pa.types.is_large_string(value.type) else pa.binary())[0].as_py()
    try:
        return raw.decode("utf-8") if raw is not None else None
    except UnicodeDecodeError:
        return raw


def _size(text: object) -> int:
    return len(text.encode("utf-8")) if isinstance(text, str) else len(text or b"")


def _as_dictionary(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """One dictionary shared by every chunk, so indices are codes across the file."""
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    return col.unify_dictionaries()


def _int_range(t: pa.DataType) -> tuple[int, int]:
    bits = t.bit_width
    if pa.types.is_unsigned_integer(t):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


# --------------------------------------------------------------------------- trajectories


@dataclass(frozen=True)
class TrajectoryInfo:
    path: Path
    rows: int
    theorems: int
    positives: int
    negatives: int
    unknown: int


def check_trajectory_file(path: str | Path) -> TrajectoryInfo:
    """Validate a trajectory parquet fully; raise ``InputError`` with every problem."""
    info, problems = validate_trajectory_file(path)
    if problems:
        raise InputError(problems)
    assert info is not None
    return info


def check_trajectories(manifest) -> None:
    """Validate every trajectory file of a manifest; one InputError with all problems."""
    problems: list[Problem] = []
    for path in manifest.trajectory_paths():
        problems += validate_trajectory_file(path)[1]
    if problems:
        raise InputError(problems)


def validate_trajectory_file(path: str | Path) -> tuple[TrajectoryInfo | None, list[Problem]]:
    """Like ``check_trajectory_file``, but return the problems instead of raising."""
    path = Path(path)
    name = str(path)
    pf, problems = _open_parquet(path)
    if pf is None:
        return None, problems
    problems = _column_problems(name, pf.schema_arrow, TRAJECTORY)
    if problems:
        return None, problems
    # Text as dictionaries: each distinct state is checked once, and nothing is copied per row.
    pf = pq.ParquetFile(path, read_dictionary=_TEXT_COLUMNS)
    table, problems = _read_columns(pf, name, TRAJECTORY.names)
    if table is None:
        return None, problems
    if table.num_rows == 0:
        return None, [Problem(name, "no rows: a trajectory file holds at least the root of each search",
                              check="no_rows")]
    found = _Findings(name)
    names_ok = _check_values(table, found)
    _check_tree(table, found, names_ok)
    if found:
        return None, found.problems()
    return _info(path, table), []


def _check_values(table: pa.Table, found: _Findings) -> bool:
    """Every per-value rule; returns whether theorem names are valid UTF-8."""
    for f in TRAJECTORY:
        col = table.column(f.name)
        if not f.nullable and col.null_count:
            found.rows("null", f.name, "null value (only parent_state_id may be null, and only at a root)",
                       _mask_rows(col.is_null()))

    names_ok = True
    for c in _TEXT_COLUMNS:
        col = table.column(c)
        bad = _text_value_rows(col, _invalid_utf8)
        names_ok &= not (c == "theorem_name" and bad.size)
        found.rows("not_utf8", c, "not valid UTF-8 text", bad, lambda r, col=col: _shown(_text_at(col, r)))
    for c in ("state_pp", "tactic_applied"):
        col = table.column(c)
        bad = _text_value_rows(col, lambda v: _bools(pc.greater(pc.binary_length(v), MAX_TEXT_BYTES)))
        found.rows("huge_text", c, f"text longer than {MAX_TEXT_BYTES:,} bytes (a pretty-printer runaway?)", bad,
                   lambda r, col=col: f"{_size(_text_at(col, r)):,} bytes")
    label = table.column("label")
    allowed = pa.array(LABELS, pa.large_string())
    bad = _text_value_rows(label, lambda v: _bools(v.is_valid()) & ~_bools(pc.is_in(v.cast(pa.large_string()),
                                                                                    value_set=allowed)))
    found.rows("unknown_label", "label", "unknown label (expected positive, negative or unknown)", bad,
               lambda r: _shown(_text_at(label, r)))
    bad = _text_value_rows(table.column("theorem_name"), lambda v: _bools(pc.equal(pc.binary_length(v), 0)))
    found.rows("empty_theorem_name", "theorem_name", "empty theorem name", bad)

    for f in TRAJECTORY:
        col = table.column(f.name)
        if not pa.types.is_integer(f.type) or col.type == f.type or col.null_count == len(col):
            continue
        lo, hi = _int_range(f.type)
        mm = pc.min_max(col).as_py()
        stored = f"stored as {col.type}, spec'd as {f.type}"
        if mm["min"] < lo:
            what = "negative value" if lo == 0 else f"value below {lo:,}"
            found.rows("out_of_range", f.name, f"{what} ({stored})", _mask_rows(pc.less(col, lo)),
                       lambda r, col=col: str(col[r].as_py()))
        if mm["max"] > hi:
            found.rows("out_of_range", f.name, f"value above {hi:,} ({stored})", _mask_rows(pc.greater(col, hi)),
                       lambda r, col=col: str(col[r].as_py()))

    rd = table.column("remaining_depth")
    found.rows("remaining_depth", "remaining_depth",
               "remaining_depth below -1 (-1 means unknown or off the proof path)",
               _mask_rows(pc.less(rd, -1)), lambda r: str(rd[r].as_py()))
    for c in ("llm_log_prob", "ebm_score", "q_value"):
        col = table.column(c)
        found.rows("not_finite", c, "not a finite number", _mask_rows(pc.invert(pc.is_finite(col))),
                   lambda r, col=col: str(col[r].as_py()))
    return names_ok


def _check_blocks() -> tuple[list[str], list[dict]]:
    """The setup statements and the check blocks of ``sql/checks/trajectory.sql``."""
    from prover_data.views import sql_dir

    text = (sql_dir() / _CHECKS_SQL).read_text(encoding="utf-8")
    setup, checks = [], []
    for part in re.split(r"^-- (?=setup$|check: )", text, flags=re.M)[1:]:
        head, _, body = part.partition("\n")
        meta = dict(re.findall(r"^-- (column|message): (.*)$", body, flags=re.M))
        sql = "\n".join(line for line in body.splitlines() if not line.startswith("--")).strip().rstrip(";")
        if head.strip() == "setup":
            setup.append(sql)
        else:
            checks.append({"check": head.removeprefix("check: ").strip(), "sql": sql, **meta})
    return setup, checks


def _check_tree(table: pa.Table, found: _Findings, names_ok: bool) -> None:
    """The tree rules: unique ids, existing parents, depths, no loops."""
    theorem = _as_dictionary(table.column("theorem_name"))
    codes = pa.chunked_array([c.indices for c in theorem.chunks], theorem.type.index_type)
    dictionary = theorem.chunks[0].dictionary if theorem.num_chunks else pa.array([], pa.string())
    if names_ok:
        names = dictionary.cast(pa.string())
    else:
        names = pa.array([f"<theorem {i}>" for i in range(len(dictionary))], pa.string())
    nodes = pa.table({
        "row": pa.array(np.arange(table.num_rows, dtype=np.int64)),
        "theorem": codes,
        "state_id": table.column("state_id"),
        "parent_state_id": table.column("parent_state_id"),
        "depth_from_root": table.column("depth_from_root"),
    })
    con = duckdb.connect()
    try:
        con.register("nodes", nodes)
        con.register("theorems", pa.table({"code": pa.array(np.arange(len(names), dtype=np.int32)), "name": names}))
        setup, checks = _check_blocks()
        for sql in setup:
            con.execute(sql)
        broken = False
        for c in checks:
            rows = con.execute(f"SELECT row FROM ({c['sql']}) ORDER BY row").fetchnumpy()["row"]
            if rows.size:
                broken = True
                first = con.execute(f"SELECT found FROM ({c['sql']}) ORDER BY row LIMIT 1").fetchone()[0]
                found.rows(c["check"], c["column"], c["message"], np.asarray(rows), first)
        if broken:  # only then can parent links loop (see the module docstring)
            parent = con.execute("SELECT coalesce(parent_row, -1) AS p FROM links ORDER BY row").fetchnumpy()["p"]
            looping = _looping_rows(np.asarray(parent, dtype=np.int64))
            if looping.size:
                first = con.execute(
                    "SELECT t.name || ' #' || n.state_id FROM nodes n JOIN theorems t ON t.code = n.theorem "
                    "WHERE n.row = ?", [int(looping[0])]).fetchone()
                found.rows("cycle", "parent_state_id",
                           "parent links loop: following parent_state_id from this node never reaches a root",
                           looping, first[0] if first else None)
    finally:
        con.close()


def _looping_rows(parent: np.ndarray) -> np.ndarray:
    """Rows whose chain of parent rows never ends (``parent`` is -1 where a chain stops).

    Pointer jumping: after k squarings ``up`` is the 2**k-th ancestor, a chain stop
    being its own ancestor; once 2**k >= n every chain that ends has reached its end.
    """
    n = parent.size
    stop = parent < 0
    up = np.where(stop, np.arange(n), parent)
    for _ in range(max(1, int(np.ceil(np.log2(n + 1))))):
        up = up[up]
    return np.flatnonzero(~stop[up])


def _info(path: Path, table: pa.Table) -> TrajectoryInfo:
    theorem = _as_dictionary(table.column("theorem_name"))
    theorems = pc.count_distinct(pa.chunked_array([c.indices for c in theorem.chunks], theorem.type.index_type))
    label = _as_dictionary(table.column("label"))
    indices = pa.chunked_array([c.indices for c in label.chunks], label.type.index_type).to_numpy(zero_copy_only=False)
    values = label.chunks[0].dictionary.cast(pa.string()).to_pylist() if label.num_chunks else []
    counts = dict(zip(values, np.bincount(indices.astype(np.int64), minlength=len(values)).tolist()))
    return TrajectoryInfo(path=path, rows=table.num_rows, theorems=theorems.as_py(),
                          positives=counts.get("positive", 0), negatives=counts.get("negative", 0),
                          unknown=counts.get("unknown", 0))


# --------------------------------------------------------------------------- BurnQED embeddings


def iter_burnqed_embeddings(path: str | Path, batch_rows: int = 8192) -> Iterator[tuple[pa.Array, np.ndarray]]:
    """Batches of (state strings, float64 vectors ``[n, dim]``) from a BurnQED embeddings.parquet.

    Every vector has the first one's dimension; null states or vectors, null or
    non-finite elements and non-UTF-8 states are errors. Batches are yielded while the
    file is clean; at the first problem the rest of the file is still read (nothing
    more is yielded) so the ``InputError`` names every bad row range. A consumer that
    writes must therefore write atomically. All-zero vectors (a known BurnQED failure)
    are valid here: the embedding store decides what to do with them.
    """
    path = Path(path)
    name = str(path)
    pf, problems = _open_parquet(path)
    if pf is None:
        raise InputError(problems)
    problems = _column_problems(name, pf.schema_arrow, BURNQED_EMBEDDINGS)
    if problems:
        raise InputError(problems)
    if pf.metadata.num_rows == 0:
        raise InputError.one(name, "no rows", check="no_rows")
    found = _Findings(name)
    dim: int | None = None
    offset = 0
    batches = pf.iter_batches(batch_size=batch_rows, columns=["state_pp", "embedding"])
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except (pa.ArrowException, OSError) as e:
            found.rows("corrupt", None, f"corrupt parquet data: {_arrow_error(e)}", offset)
            break
        states, vectors = batch.column(0), batch.column(1)
        if not pa.types.is_string(states.type):
            states = states.cast(pa.string()) if not pa.types.is_dictionary(states.type) else \
                states.dictionary.take(states.indices).cast(pa.string())
        dim = _check_embedding_batch(found, states, vectors, offset, dim)
        if not found:
            flat = pc.list_flatten(vectors).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            yield states, flat.reshape(len(vectors), dim)
        offset += len(vectors)
    found.raise_if_any()


def _check_embedding_batch(found: _Findings, states: pa.Array, vectors: pa.Array, offset: int,
                           dim: int | None) -> int | None:
    if states.null_count:
        found.rows("null", "state_pp", "null state", _mask_rows(states.is_null()) + offset)
    bad = _text_value_rows(pa.chunked_array([states]), _invalid_utf8)
    found.rows("not_utf8", "state_pp", "not valid UTF-8 text", bad + offset,
               _shown(_text_at(pa.chunked_array([states]), int(bad[0]))) if bad.size else None)
    if vectors.null_count:
        found.rows("null", "embedding", "null vector", _mask_rows(vectors.is_null()) + offset)
    if pa.types.is_fixed_size_list(vectors.type):
        lengths = np.full(len(vectors), vectors.type.list_size, dtype=np.int64)
    else:
        lengths = pc.list_value_length(vectors).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    valid = _bools(vectors.is_valid())
    if dim is None and valid.any():
        dim = int(lengths[np.argmax(valid)])
        if dim == 0:
            found.rows("empty_vector", "embedding", "empty vector (dimension 0)", offset + int(np.argmax(valid)))
    if dim is not None:
        ragged = np.flatnonzero(valid & (lengths != dim))
        if ragged.size:
            found.rows("ragged", "embedding", f"ragged vectors: expected dimension {dim} (the first vector's)",
                       ragged + offset, f"dimension {int(lengths[ragged[0]])}")
    finite = _bools(pc.is_finite(pc.list_flatten(vectors)))  # a null element is not finite
    if not finite.all():
        parents = pc.list_parent_indices(vectors).to_numpy(zero_copy_only=False)
        found.rows("not_finite", "embedding", "vector holds NaN, infinite or null elements",
                   np.unique(parents[~finite]) + offset)
    return dim


# --------------------------------------------------------------------------- JSON inputs


def _read_text(path: str | Path, what: str) -> str:
    p = Path(path)
    name = str(p)
    if not p.is_file():
        raise InputError.one(name, "no such file" if not p.exists() else "not a regular file", check="no_file")
    data = p.read_bytes()
    if not data.strip():
        raise InputError.one(name, f"empty file: expected {what}", check="empty_file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError.one(name, f"not UTF-8 text (invalid byte {data[e.start]:#04x} at offset {e.start}, "
                                   f"line {line})", check="not_utf8") from None


def _load_json(path: str | Path) -> object:
    text = _read_text(path, "JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        end = "" if text.rstrip().endswith(("}", "]")) else " (the file ends early: truncated?)"
        raise InputError.one(str(path), f"not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}{end}",
                             check="bad_json") from None


def _json_type(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def read_theorem_list(path: str | Path) -> pa.Table:
    """A theorem index or benchmark list ``{"theorems": [{"name", "statement"}, ...]}``.

    Columns ``name``, ``statement`` (strings), in file order. Other top-level keys
    (Putnam's ``preamble``) and other entry keys are allowed; names must be unique and
    names and statements non-empty strings.
    """
    return _theorem_table(str(path), _load_json(path))


def _theorem_table(name: str, doc: object) -> pa.Table:
    found = _Findings(name)
    if not isinstance(doc, dict):
        found.whole("wrong_shape", f'expected an object {{"theorems": [...]}}, found {_json_type(doc)}')
    elif "theorems" not in doc:
        keys = ", ".join(sorted(map(str, doc))[:5]) or "none"
        found.whole("wrong_shape", f'missing key "theorems" (found keys: {keys})', key="theorems")
    elif not isinstance(doc["theorems"], list):
        found.whole("wrong_shape", f'"theorems" must be a list, found {_json_type(doc["theorems"])}', key="theorems")
    found.raise_if_any()
    names, statements = [], []
    first: dict[str, int] = {}
    for i, t in enumerate(doc["theorems"]):
        if not isinstance(t, dict):
            found.rows("not_an_object", None, "expected an object with name and statement", i, _json_type(t))
            continue
        good = True
        for key in ("name", "statement"):
            v = t.get(key)
            if not isinstance(v, str) or not v.strip():
                what = "missing" if key not in t else _shown(v) if isinstance(v, str) else _json_type(v)
                found.rows(f"bad_{key}", key, "expected a non-empty string", i, what)
                good = False
        if not good:
            continue
        if t["name"] in first:
            found.rows("duplicate_name", "name", "duplicate theorem name", i,
                       f"{_shown(t['name'])} (first at row {first[t['name']]})")
            continue
        first[t["name"]] = i
        names.append(t["name"])
        statements.append(t["statement"])
    found.raise_if_any()
    return pa.table({"name": pa.array(names, pa.string()), "statement": pa.array(statements, pa.string())})


_TACTIC_KEYS = ("tactic", "annotated_tactic", "state_before", "state_after")


LEANDOJO_PAIRS = pa.schema([("theorem_name", pa.string()), ("file_path", pa.string()), ("tactic_index", pa.int32()),
                            ("state_pp", pa.string()), ("tactic", pa.string()), ("state_after", pa.string())])
_PAIR_BATCH = 65_536


def read_leandojo(path: str | Path) -> pa.Table:
    """LeanDojo Benchmark 4 JSON: one row per traced tactic, a (state_before, tactic) pair.

    Columns (``LEANDOJO_PAIRS``): theorem_name, file_path, tactic_index (int32, position
    in the theorem's traced_tactics), state_pp (the state before the tactic), tactic,
    state_after. Rows of a problem are theorem indices; the column names the key
    (``traced_tactics[*].state_before``). The file is decoded one theorem at a time
    (Benchmark 4 runs to gigabytes; a whole-document parse needs several times that in
    memory); a file that is not a well-formed JSON list is parsed whole instead, so its
    problem is reported as for any JSON input.
    """
    try:
        return _leandojo_table(str(path), _json_array_items(path))
    except _NotStreamable:
        return _leandojo_table(str(path), _load_json(path))


class _NotStreamable(Exception):
    """Not a well-formed top-level JSON array: the whole-document parse says what is wrong."""


_WHITESPACE = re.compile(r"[ \t\r\n]*")


def _json_array_items(path: str | Path, chunk_chars: int = 1 << 24) -> Iterator[object]:
    """The elements of a file's top-level JSON array, decoded one at a time.

    Memory stays bounded by one element plus a chunk of text. Raises ``_NotStreamable``
    (possibly after yielding some elements) when the file is not a readable JSON array.
    """
    decoder = json.JSONDecoder()
    try:
        f = open(path, encoding="utf-8")
    except OSError:
        raise _NotStreamable from None
    with f:
        buf, pos, eof = "", 0, False

        def fill() -> None:
            nonlocal buf, pos, eof
            try:
                more = f.read(chunk_chars)
            except UnicodeDecodeError:
                raise _NotStreamable from None
            eof = not more
            buf, pos = buf[pos:] + more, 0

        def skip_whitespace() -> None:
            nonlocal pos
            while True:
                pos = _WHITESPACE.match(buf, pos).end()
                if pos < len(buf) or eof:
                    return
                fill()

        fill()
        skip_whitespace()
        if buf.startswith("\ufeff", pos):
            pos += 1
            skip_whitespace()
        if buf[pos:pos + 1] != "[":
            raise _NotStreamable
        pos += 1
        skip_whitespace()
        if buf[pos:pos + 1] == "]":
            pos += 1
        else:
            while True:
                while True:
                    try:
                        item, end = decoder.raw_decode(buf, pos)
                    except json.JSONDecodeError:
                        end = None
                    # Complete only once its separator is in the buffer: a number cut by
                    # the chunk ("6.5e|3") decodes as a shorter one.
                    after = _WHITESPACE.match(buf, end).end() if end is not None else len(buf)
                    if end is not None and (buf[after:after + 1] in (",", "]") or eof):
                        break
                    if eof:  # cannot decode, and there is no more text
                        raise _NotStreamable
                    fill()  # the element runs past the chunk
                pos = end
                yield item
                skip_whitespace()
                sep = buf[pos:pos + 1]
                pos += 1
                if sep == "]":
                    break
                if sep != ",":
                    raise _NotStreamable
                skip_whitespace()
        skip_whitespace()
        if pos < len(buf):
            raise _NotStreamable


def _leandojo_table(name: str, doc: object) -> pa.Table:
    found = _Findings(name)
    if isinstance(doc, (dict, str, int, float, bool)) or doc is None:
        found.whole("wrong_shape", f"expected a JSON list of theorems, found {_json_type(doc)}")
        found.raise_if_any()
    cols: dict[str, list] = {f.name: [] for f in LEANDOJO_PAIRS}
    batches: list[pa.RecordBatch] = []

    def flush() -> None:  # Python strings become Arrow buffers a batch at a time
        batches.append(pa.record_batch([pa.array(cols[f.name], f.type) for f in LEANDOJO_PAIRS], schema=LEANDOJO_PAIRS))
        for v in cols.values():
            v.clear()

    for i, t in enumerate(doc):
        if not isinstance(t, dict):
            found.rows("not_an_object", None, "expected a theorem object", i, _json_type(t))
            continue
        good = True
        for key in ("full_name", "file_path"):
            if not isinstance(t.get(key), str) or not t[key]:
                found.rows(f"bad_{key}", key, "expected a non-empty string", i,
                           "missing" if key not in t else _json_type(t[key]))
                good = False
        tactics = t.get("traced_tactics")
        if not isinstance(tactics, list):
            found.rows("bad_traced_tactics", "traced_tactics", "expected a list of traced tactics", i,
                       "missing" if "traced_tactics" not in t else _json_type(tactics))
            continue
        for j, tt in enumerate(tactics):
            if not isinstance(tt, dict):
                found.rows("bad_traced_tactic", "traced_tactics[*]", "expected a traced tactic object", i,
                           f"traced_tactics[{j}] is {_json_type(tt)}")
                good = False
                continue
            for key in _TACTIC_KEYS:
                v = tt.get(key)
                ok = isinstance(v, (list, str)) if key == "annotated_tactic" else isinstance(v, str)
                if not ok:
                    found.rows(f"bad_{key}", f"traced_tactics[*].{key}",
                               "expected a list" if key == "annotated_tactic" else "expected a string", i,
                               f"traced_tactics[{j}].{key} is {'missing' if key not in tt else _json_type(v)}")
                    good = False
        if not good:
            continue
        for j, tt in enumerate(tactics):
            cols["theorem_name"].append(t["full_name"])
            cols["file_path"].append(t["file_path"])
            cols["tactic_index"].append(j)
            cols["state_pp"].append(tt["state_before"])
            cols["tactic"].append(tt["tactic"])
            cols["state_after"].append(tt["state_after"])
        if len(cols["tactic"]) >= _PAIR_BATCH:
            flush()
    found.raise_if_any()
    flush()
    return pa.Table.from_batches(batches, LEANDOJO_PAIRS)


def read_whole_proofs(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """Whole-proof samples ``{theorem: {temperature: [proof, ...]}}`` (BurnQED diversity tests)."""
    return _whole_proofs(str(path), _load_json(path))


def _whole_proofs(name: str, doc: object) -> dict[str, dict[str, list[str]]]:
    found = _Findings(name)
    if not isinstance(doc, dict) or not doc:
        found.whole("wrong_shape", "expected an object {theorem: {temperature: [proof strings]}}, found "
                    + ("an empty object" if isinstance(doc, dict) else _json_type(doc)))
        found.raise_if_any()
    for i, (theorem, samples) in enumerate(doc.items()):
        if not isinstance(samples, dict):
            found.rows("wrong_shape", None, "expected an object {temperature: [proof strings]}", i,
                       f"{_shown(theorem)}: {_json_type(samples)}")
            continue
        for temperature, proofs in samples.items():
            try:
                float(temperature)
            except ValueError:
                found.rows("bad_temperature", None, "temperature key is not a number", i,
                           f"{_shown(theorem)}: {_shown(temperature)}")
            if not isinstance(proofs, list) or not all(isinstance(p, str) for p in proofs):
                found.rows("bad_proofs", None, "expected a list of proof strings", i,
                           f"{_shown(theorem)} at temperature {temperature}")
    found.raise_if_any()
    return doc


# --------------------------------------------------------------------------- search config

# Keys of BurnQED's [search] table that hold numbers (configs/search.toml).
_SEARCH_NUMBERS = (
    "max_depth", "num_candidates", "alpha", "beta", "llm_temperature", "ebm_temperature",
    "timeout_per_theorem", "temperature", "top_p", "max_tactic_tokens", "batch_encode_size",
    "ebm_ramp_depth", "ebm_min_depth", "hybrid_num_proofs", "hybrid_min_proofs", "hybrid_max_rounds",
    "hybrid_max_tokens", "hybrid_min_tokens", "hybrid_tokens_decay_depth", "hybrid_budget",
)


def _load_toml(path: str | Path) -> dict:
    text = _read_text(path, "TOML")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError.one(str(path), f"not valid TOML: {e}", check="bad_toml") from None


def read_search_config(path: str | Path) -> dict:
    """A BurnQED search config: TOML with a ``[search]`` table (``data/burnqed/search.toml``).

    Keys are not restricted (BurnQED adds some in each release), but the known numeric
    ones must be numbers, and ``[lean_pool]``, when present, a table.
    """
    name = str(path)
    doc = _load_toml(path)
    found = _Findings(name)
    search = doc.get("search")
    if not isinstance(search, dict):
        found.whole("wrong_shape", "missing [search] table" if search is None else
                    f"expected a [search] table, found {type(search).__name__}", key="search")
    else:
        for key in _SEARCH_NUMBERS:
            v = search.get(key)
            if key in search and (isinstance(v, bool) or not isinstance(v, (int, float))):
                found.whole("wrong_type", f"expected a number, found {_shown(v)}", key=f"search.{key}")
    if "lean_pool" in doc and not isinstance(doc["lean_pool"], dict):
        found.whole("wrong_type", "expected a [lean_pool] table", key="lean_pool")
    found.raise_if_any()
    return doc


# --------------------------------------------------------------------------- any path


@dataclass(frozen=True)
class Validation:
    """What ``validate`` found about one file."""

    path: Path
    kind: str  # one of KINDS, or "unknown"
    rows: int | None  # records read (trajectory rows, theorems, traced tactics, vectors) when clean
    problems: list[Problem] = field(default_factory=list)


def validate_path(path: str | Path) -> tuple[str, list[Problem]]:
    """(kind, problems) of any input file; the kind is detected from extension and content."""
    v = inspect_path(path)
    return v.kind, v.problems


def inspect_path(path: str | Path) -> Validation:
    """Detect what ``path`` is, validate it fully, and count its records."""
    p = Path(path)
    if not p.is_file():
        what = "no such file" if not p.exists() else "not a regular file"
        return Validation(p, "unknown", None, [Problem(str(p), what, check="no_file")])
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return _inspect_parquet(p)
    if suffix == ".json":
        return _inspect_json(p)
    if suffix == ".toml":
        return _inspect_toml(p)
    return Validation(p, "unknown", None, [Problem(
        str(p), f"unknown input kind (expected a .parquet, .json or .toml file, found '{suffix or 'no extension'}')",
        check="unknown_kind")])


def _inspect_parquet(p: Path) -> Validation:
    try:
        names = pq.ParquetFile(p).schema_arrow.names
        embeddings = "embedding" in names and "theorem_name" not in names
    except (pa.ArrowException, OSError):
        embeddings = "embedding" in p.name  # the reader will say what is wrong with the file
    if not embeddings:
        info, problems = validate_trajectory_file(p)
        return Validation(p, "trajectory", info.rows if info else None, problems)
    try:
        rows = sum(len(s) for s, _ in iter_burnqed_embeddings(p))
    except InputError as e:
        return Validation(p, "burnqed_embeddings", None, e.problems)
    return Validation(p, "burnqed_embeddings", rows, [])


def _json_kind(doc: object) -> str:
    if isinstance(doc, list):
        first = doc[0] if doc else None
        theorem_like = isinstance(first, dict) and "statement" in first and "traced_tactics" not in first
        return "theorem_list" if theorem_like else "leandojo"
    if isinstance(doc, dict) and ("traced_tactics" in doc or "full_name" in doc):
        return "leandojo"  # one LeanDojo theorem where a list of them belongs
    if isinstance(doc, dict) and "theorems" not in doc and doc and all(isinstance(v, dict) for v in doc.values()):
        return "whole_proofs"
    return "theorem_list"


def _inspect_json(p: Path) -> Validation:
    try:  # a LeanDojo list is read one theorem at a time, as the build reads it
        items = _json_array_items(p)
        first = next(items, None)
        if not _json_kind([first] if first is not None else []) == "leandojo":
            raise _NotStreamable
        rows = _leandojo_table(str(p), itertools.chain([first] if first is not None else [], items)).num_rows
        return Validation(p, "leandojo", rows, [])
    except InputError as e:
        return Validation(p, "leandojo", None, e.problems)
    except _NotStreamable:
        pass
    try:
        doc = _load_json(p)
    except InputError as e:  # guess the kind from the first character, for the report
        head = p.read_bytes()[:4096].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
        return Validation(p, "leandojo" if head.startswith("[") else "theorem_list", None, e.problems)
    kind = _json_kind(doc)
    try:
        if kind == "leandojo":
            rows = _leandojo_table(str(p), doc).num_rows
        elif kind == "whole_proofs":
            rows = len(_whole_proofs(str(p), doc))
        else:
            rows = _theorem_table(str(p), doc).num_rows
    except InputError as e:
        return Validation(p, kind, None, e.problems)
    return Validation(p, kind, rows, [])


def _toml_kind(p: Path) -> str:
    text = p.read_bytes().decode("utf-8", errors="replace")
    try:
        doc = tomllib.loads(text)
        return "manifest" if "sources" in doc or "name" in doc else "search_config"
    except tomllib.TOMLDecodeError:
        return "manifest" if re.search(r"^\s*(\[sources|name\s*=)", text, flags=re.M) else "search_config"


def _inspect_toml(p: Path) -> Validation:
    kind = _toml_kind(p)
    try:
        if kind == "manifest":
            from prover_data.manifest import load_manifest

            load_manifest(p)
            return Validation(p, kind, None, [])
        read_search_config(p)
        return Validation(p, kind, None, [])
    except InputError as e:
        return Validation(p, kind, None, e.problems)
