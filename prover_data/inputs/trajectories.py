"""Trajectory parquets: the search trees BurnQED's search writes (``schema.TRAJECTORY``).

Rules (extra columns are allowed):

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
* *Tree.* ``(theorem_name, state_id)`` is unique within one search; a parent id names
  a node of the same theorem and search in the same file; a node's depth is its
  parent's + 1; parent links never loop. (With unique ids, existing parents and depth
  = parent depth + 1, a loop is impossible, so the loop search runs only when one of
  those rules failed.)
* *Searches.* A file normally holds one search per theorem: one root (null parent,
  depth 0) per theorem. A second root means repeated searches (a resumed run
  appended, a merged harvest): each root starts a new search and a row belongs to the
  last root of its theorem above it. Searches that number their nodes on are read
  under either setting; under ``repeated_searches = "refuse"`` searches that restart
  their ids (a ``state_id`` that a later search of the theorem repeats) are an error
  naming the setting, under ``"split_at_roots"`` they are read too. What stays
  ambiguous under both (an id repeated inside one search, a parent outside its search,
  a row above the first root) is refused.
* *Schema eras.* BurnQED's 14 columns, or the 12 it wrote before ``q_value`` and
  ``visits`` (``trajectory_spec``): a file with neither reads both as 0, a file with
  one of them is refused for the other.
* *Files.* A 0-byte file, a file without parquet magic bytes, a truncated file
  (footer missing), a corrupt footer or data page, and a file with 0 rows are all
  errors: a search run that wrote nothing is a failed run, and skipping it silently is
  what this module exists to prevent.

Checks are vectorized (Arrow compute on dictionary values, DuckDB joins for the tree
in ``sql/checks/trajectory.sql``, numpy pointer jumping for loops): no Python loop
runs over the rows of a parquet file. A build runs the same tree checks, and counts
the value rules again in SQL (``sql/checks/trajectory_values.sql``), where it loads
the files; the cases of ``tests/bad_inputs.py`` on either side of each rule hold the
two statements of the value rules equal.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prover_data.errors import InputError, Problem
from prover_data.inputs.arrow_values import bools, invalid_utf8, mask_rows, text_at, text_value_rows
from prover_data.inputs.parquet_files import column_problems, open_parquet, read_columns
from prover_data.inputs.problems import Findings, shown
from prover_data.schema import LABELS, SEARCH_VALUE_COLUMNS, TRAJECTORY, TRAJECTORY_12
from prover_data.sql_files import define_macros, sql_dir

MAX_TEXT_BYTES = 1 << 20  # a Lean goal or tactic over 1 MiB is a pretty-printer runaway
_CHECKS_SQL = "checks/trajectory.sql"
_VALUES_SQL = "checks/trajectory_values.sql"
_NODES_SQL = "checks/trajectory_nodes.sql"
_TEXT_COLUMNS = [f.name for f in TRAJECTORY if pa.types.is_string(f.type)]


_ONE_OF_TWO = ": BurnQED's 14-column schema has both q_value and visits, its older 12-column schema neither"
REPEATED_SEARCHES = ("refuse", "split_at_roots")  # manifest [sources] repeated_searches


@dataclass(frozen=True)
class TrajectoryInfo:
    path: Path
    rows: int
    theorems: int
    searches: int  # (theorem, search) pairs: root rows
    positives: int
    negatives: int
    unknown: int


def check_trajectory_file(path: str | Path, repeated_searches: str = "refuse") -> TrajectoryInfo:
    """Validate a trajectory parquet fully; raise ``InputError`` with every problem."""
    info, problems = validate_trajectory_file(path, repeated_searches)
    if problems:
        raise InputError(problems)
    assert info is not None
    return info


def check_trajectories(manifest) -> None:
    """Validate every trajectory file of a manifest; one InputError with all problems."""
    problems: list[Problem] = []
    for path in manifest.trajectory_paths():
        problems += validate_trajectory_file(path, manifest.sources.repeated_searches)[1]
    if problems:
        raise InputError(problems)


def validate_trajectory_file(path: str | Path,
                             repeated_searches: str = "refuse") -> tuple[TrajectoryInfo | None, list[Problem]]:
    """Like ``check_trajectory_file``, but return the problems instead of raising."""
    path = Path(path)
    name = str(path)
    problems = footer_problems(path)
    if problems:
        return None, problems
    # Text as dictionaries: each distinct state is checked once, and nothing is copied per row.
    pf = pq.ParquetFile(path, read_dictionary=_TEXT_COLUMNS)
    spec = trajectory_spec(pf.schema_arrow)
    table, problems = read_columns(pf, name, spec.names)
    if table is None:
        return None, problems
    if spec is TRAJECTORY_12:  # BurnQED's reader takes both as 0, and so do the views
        table = table.append_column("q_value", pa.array(np.zeros(table.num_rows), pa.float64())) \
                     .append_column("visits", pa.array(np.zeros(table.num_rows, np.uint32), pa.uint32()))
    found = Findings(name)
    names_ok = _check_values(table, found)
    _check_tree(table, found, names_ok, repeated_searches)
    if found:
        return None, found.problems()
    return _info(path, table), []


def footer_problems(path: Path) -> list[Problem]:
    """What the file's footer alone shows: not a (whole) parquet file, a column missing or
    mistyped, no rows. Cheap (no data page is read), so a build checks it before loading."""
    pf, problems = open_parquet(path)
    if pf is None:
        return problems
    problems = [dataclasses.replace(p, message=p.message + _ONE_OF_TWO)
                if p.check == "missing_column" and p.column in SEARCH_VALUE_COLUMNS else p
                for p in column_problems(str(path), pf.schema_arrow, trajectory_spec(pf.schema_arrow))]
    if not problems and pf.metadata.num_rows == 0:
        problems = [Problem(str(path), "no rows: a trajectory file holds at least the root of each search",
                            check="no_rows")]
    return problems


def trajectory_spec(found: pa.Schema) -> pa.Schema:
    """The columns a file must have: the 14 of BurnQED's schema, or the 12 of its older
    one when the file has neither ``q_value`` nor ``visits``. A file with only one of
    the two is held to all 14, so the other is named as missing."""
    if any(name in found.names for name in SEARCH_VALUE_COLUMNS):
        return TRAJECTORY
    return TRAJECTORY_12


def files_with_problems(con, repeated_searches: str, known_valid: list[int]) -> list[int]:
    """The ``file_order`` of each loaded file with a problem, checked where it was loaded.

    ``con`` holds the build's ``trajectories`` table (every file, as the views read
    them); the value rules (``sql/checks/trajectory_values.sql``) and the tree rules
    (``sql/checks/trajectory.sql``, the same statements the one-file validator runs) are
    counted per file in SQL, so a clean input costs no second read. The tree rules run
    one file at a time, as they would on their own: their working tables stay the size
    of a file, not of an iteration. Only the files this returns need
    ``validate_trajectory_file``, which says what is wrong. Files in ``known_valid``
    (validated before, see ``validation_cache``) are skipped.
    """
    con.execute("SET VARIABLE max_text_bytes = ?", [MAX_TEXT_BYTES])
    con.execute("SET VARIABLE files_known_valid = ?", [known_valid or [-1]])
    bad = {f for f, n in con.execute((sql_dir() / _VALUES_SQL).read_text(encoding="utf-8")).fetchall() if n}
    files = [f for (f,) in con.execute("SELECT file_order FROM trajectory_files ORDER BY ALL").fetchall()
             if f not in known_valid]
    setup, checks = _check_blocks(repeated_searches)
    try:
        con.execute((sql_dir() / _NODES_SQL).read_text(encoding="utf-8"))
        for file in files:
            con.execute("SET VARIABLE check_file = ?", [file])
            for sql in setup:
                con.execute(sql)
            if any(con.execute(f"SELECT count(*) FROM ({c['sql']})").fetchall()[0][0] for c in checks):
                bad.add(file)
    finally:
        for name in ("links", "node_index", "search_roots", "searched"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute("DROP VIEW IF EXISTS nodes")
        con.execute("DROP VIEW IF EXISTS theorems")
    return sorted(bad)


def _check_values(table: pa.Table, found: Findings) -> bool:
    """Every per-value rule; returns whether theorem names are valid UTF-8."""
    for f in TRAJECTORY:
        col = table.column(f.name)
        if not f.nullable and col.null_count:
            found.rows("null", f.name, "null value (only parent_state_id may be null, and only at a root)",
                       mask_rows(col.is_null()))

    names_ok = True
    for c in _TEXT_COLUMNS:
        col = table.column(c)
        bad = text_value_rows(col, invalid_utf8)
        names_ok &= not (c == "theorem_name" and bad.size)
        found.rows("not_utf8", c, "not valid UTF-8 text", bad, lambda r, col=col: shown(text_at(col, r)))
    for c in ("state_pp", "tactic_applied"):
        col = table.column(c)
        bad = text_value_rows(col, lambda v: bools(pc.greater(pc.binary_length(v), MAX_TEXT_BYTES)))
        found.rows("huge_text", c, f"text longer than {MAX_TEXT_BYTES:,} bytes (a pretty-printer runaway?)", bad,
                   lambda r, col=col: f"{_size(text_at(col, r)):,} bytes")
    label = table.column("label")
    allowed = pa.array(LABELS, pa.large_string())
    bad = text_value_rows(label, lambda v: bools(v.is_valid()) & ~bools(pc.is_in(v.cast(pa.large_string()),
                                                                                 value_set=allowed)))
    found.rows("unknown_label", "label", "unknown label (expected positive, negative or unknown)", bad,
               lambda r: shown(text_at(label, r)))
    bad = text_value_rows(table.column("theorem_name"), lambda v: bools(pc.equal(pc.binary_length(v), 0)))
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
            found.rows("out_of_range", f.name, f"{what} ({stored})", mask_rows(pc.less(col, lo)),
                       lambda r, col=col: str(col[r].as_py()))
        if mm["max"] > hi:
            found.rows("out_of_range", f.name, f"value above {hi:,} ({stored})", mask_rows(pc.greater(col, hi)),
                       lambda r, col=col: str(col[r].as_py()))

    rd = table.column("remaining_depth")
    found.rows("remaining_depth", "remaining_depth",
               "remaining_depth below -1 (-1 means unknown or off the proof path)",
               mask_rows(pc.less(rd, -1)), lambda r: str(rd[r].as_py()))
    for c in ("llm_log_prob", "ebm_score", "q_value"):
        col = table.column(c)
        found.rows("not_finite", c, "not a finite number", mask_rows(pc.invert(pc.is_finite(col))),
                   lambda r, col=col: str(col[r].as_py()))
    return names_ok


def _check_blocks(repeated_searches: str) -> tuple[list[str], list[dict]]:
    """The setup statements and the check blocks of ``sql/checks/trajectory.sql`` that
    apply under ``repeated_searches`` (a block's ``-- when:`` names its setting)."""
    text = (sql_dir() / _CHECKS_SQL).read_text(encoding="utf-8")
    setup, checks = [], []
    for part in re.split(r"^-- (?=setup$|check: )", text, flags=re.M)[1:]:
        head, _, body = part.partition("\n")
        meta = dict(re.findall(r"^-- (column|message|when): (.*)$", body, flags=re.M))
        sql = "\n".join(line for line in body.splitlines() if not line.startswith("--")).strip().rstrip(";")
        if head.strip() == "setup":
            setup.append(sql)
        elif meta.pop("when", repeated_searches) == repeated_searches:
            checks.append({"check": head.removeprefix("check: ").strip(), "sql": sql, **meta})
    return setup, checks


def _check_tree(table: pa.Table, found: Findings, names_ok: bool, repeated_searches: str) -> None:
    """The tree rules: one search per theorem (or roots splitting searches), unique ids,
    existing parents, depths, no loops."""
    if repeated_searches not in REPEATED_SEARCHES:
        raise ValueError(f"repeated_searches must be one of {REPEATED_SEARCHES}, got {repeated_searches!r}")
    theorem = _as_dictionary(table.column("theorem_name"))
    codes = pa.chunked_array([c.indices for c in theorem.chunks], theorem.type.index_type)
    dictionary = theorem.chunks[0].dictionary if theorem.num_chunks else pa.array([], pa.string())
    if names_ok:
        names = dictionary.cast(pa.string())
    else:
        names = pa.array([f"<theorem {i}>" for i in range(len(dictionary))], pa.string())
    nodes = pa.table({
        "file": pa.array(np.zeros(table.num_rows, dtype=np.int32)),
        "row": pa.array(np.arange(table.num_rows, dtype=np.int64)),
        "theorem": codes,
        "state_id": table.column("state_id"),
        "parent_state_id": table.column("parent_state_id"),
        "depth_from_root": table.column("depth_from_root"),
    })
    con = duckdb.connect()
    try:
        define_macros(con)  # the search numbering the views use (search_numbers)
        con.register("nodes", nodes)
        con.register("theorems", pa.table({"code": pa.array(np.arange(len(names), dtype=np.int32)), "name": names}))
        setup, checks = _check_blocks(repeated_searches)
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
    roots = pc.sum(pc.and_(pc.is_null(table.column("parent_state_id")),
                           pc.equal(table.column("depth_from_root"), 0))).as_py() or 0
    return TrajectoryInfo(path=path, rows=table.num_rows, theorems=theorems.as_py(), searches=roots,
                          positives=counts.get("positive", 0), negatives=counts.get("negative", 0),
                          unknown=counts.get("unknown", 0))


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
