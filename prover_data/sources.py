"""Validated readers of every input format.

Other programs write our inputs: BurnQED's search (trajectory parquet, embeddings
parquet, theorem lists, search config) and LeanDojo's tracer (Benchmark 4 JSON). A
file that is subtly wrong -- a mistyped column, a dangling parent, a truncated write --
must stop the pipeline with a message a person can act on, not become a silently
smaller dataset (BurnQED's loader logs and skips a file it cannot read). So every
reader checks the whole file, collects *every* problem (file, row or row range,
column, expected vs found) and raises one ``InputError``.

Type rule for trajectory columns: strings may be ``string``, ``large_string`` or
``string_view`` (or dictionary-encoded strings); integer columns accept any integer
width whose values fit the spec'd type (a signed column of an unsigned field must hold
no negative value); floats accept float32 or float64; booleans must be boolean.
An empty parquet file (0 bytes) and a file with 0 rows are both errors: a search run
that wrote nothing is a failed run, and dropping it silently is what we are here to
prevent.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prover_data.errors import InputError, Problem
from prover_data.schema import BURNQED_EMBEDDINGS, TRAJECTORY

MAX_TEXT_BYTES = 1 << 20  # a Lean goal of over 1 MiB is a pretty-printer runaway
EXAMPLES_SHOWN = 3
_CHECKS_FILE = "checks/trajectory.sql"


@dataclass(frozen=True)
class TrajectoryInfo:
    path: Path
    rows: int
    theorems: int
    positives: int
    negatives: int
    unknown: int


# --------------------------------------------------------------------------- trajectories


def check_trajectory_file(path: str | Path) -> TrajectoryInfo:
    """Validate a trajectory parquet fully; raise ``InputError`` with every problem."""
    info, problems = validate_trajectory_file(path)
    if problems:
        raise InputError(problems)
    assert info is not None
    return info


def validate_trajectory_file(path: str | Path) -> tuple[TrajectoryInfo | None, list[Problem]]:
    """Like ``check_trajectory_file``, but return the problems instead of raising."""
    path = Path(path)
    name = str(path)
    table, problems = _read_parquet(path, TRAJECTORY)
    if table is None:
        return None, problems
    if table.num_rows == 0:
        return None, [Problem(name, "no rows: a trajectory file must hold at least its search roots")]
    problems += _utf8_problems(name, table, ["theorem_name", "state_pp", "tactic_applied", "label"])
    if problems:
        return None, problems
    problems += _row_checks(name, table)
    if problems:
        return None, problems
    counts = {d["values"]: d["counts"] for d in pc.value_counts(table.column("label")).to_pylist()}
    info = TrajectoryInfo(
        path=path,
        rows=table.num_rows,
        theorems=len(pc.unique(table.column("theorem_name"))),
        positives=counts.get("positive", 0),
        negatives=counts.get("negative", 0),
        unknown=counts.get("unknown", 0),
    )
    return info, []


def _read_parquet(path: Path, schema: pa.Schema) -> tuple[pa.Table | None, list[Problem]]:
    """Read the spec'd columns of a parquet file, or say precisely why not."""
    problems = _schema_problems(path, schema)
    if problems:
        return None, problems
    try:
        return pq.read_table(path, columns=schema.names), []
    except (pa.ArrowException, OSError) as e:
        return None, [Problem(str(path), f"not a readable parquet file (truncated or corrupt?): {e}")]


def _schema_problems(path: Path, schema: pa.Schema) -> list[Problem]:
    """Missing file, empty or unreadable parquet, missing or mistyped columns."""
    name = str(path)
    if not path.is_file():
        return [Problem(name, "no such file")]
    if path.stat().st_size == 0:
        return [Problem(name, "empty file (0 bytes): expected a parquet file")]
    try:
        found = pq.ParquetFile(path).schema_arrow
    except (pa.ArrowException, OSError) as e:
        return [Problem(name, f"not a readable parquet file (truncated or corrupt?): {e}")]
    problems = []
    for field in schema:
        if field.name not in found.names:
            problems.append(Problem(name, f"missing column (expected {field.type})", column=field.name))
        elif not _type_ok(field.type, found.field(field.name).type):
            problems.append(Problem(name, f"wrong type: expected {field.type}, found {found.field(field.name).type}",
                                    column=field.name))
    return problems


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
        return (pa.types.is_list(actual) or pa.types.is_large_list(actual)
                or pa.types.is_fixed_size_list(actual)) and pa.types.is_floating(actual.value_type)
    return actual == expected


def _utf8_problems(name: str, table: pa.Table, columns: list[str]) -> list[Problem]:
    out = []
    for col in columns:
        arr = table.column(col)
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        offset = 0
        for chunk in arr.chunks:
            try:
                chunk.validate(full=True)
            except pa.ArrowInvalid as e:
                m = re.search(r"index (\d+)", str(e))
                row = offset + int(m.group(1)) if m else None
                out.append(Problem(name, "not valid UTF-8 text", row=row, column=col))
                break
            offset += len(chunk)
    return out


def _check_blocks() -> list[dict]:
    from prover_data.views import sql_dir

    text = (sql_dir() / _CHECKS_FILE).read_text(encoding="utf-8")
    blocks = []
    for part in text.split("-- check: ")[1:]:
        lines = part.splitlines()
        meta = {"check": lines[0].strip()}
        for line in lines[1:]:
            m = re.match(r"-- (column|message): (.*)", line)
            if m:
                meta[m.group(1)] = m.group(2).strip()
        meta["sql"] = "\n".join(l for l in lines[1:] if not l.startswith("--")).strip()
        blocks.append(meta)
    return blocks


def _row_checks(name: str, table: pa.Table) -> list[Problem]:
    """Every row-level rule of sql/checks/trajectory.sql, vectorized in DuckDB."""
    rows = table.append_column("row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    con = duckdb.connect()
    con.register("rows", rows)
    plan: list[tuple[dict, dict]] = []
    for block in _check_blocks():
        check = block["check"]
        if check == "null":
            plan += [(block, {"column": f.name}) for f in TRAJECTORY if not f.nullable]
        elif check == "not_finite":
            plan += [(block, {"column": c}) for c in ("llm_log_prob", "ebm_score", "q_value")]
        elif check == "huge_text":
            plan += [(block, {"column": c, "limit": MAX_TEXT_BYTES}) for c in ("state_pp", "tactic_applied")]
        elif check == "negative":
            plan += [(block, {"column": f.name}) for f in TRAJECTORY
                     if pa.types.is_unsigned_integer(f.type) and pa.types.is_signed_integer(table.schema.field(f.name).type)]
        else:
            plan.append((block, {}))
    problems: list[Problem] = []
    null_columns: set[str] = set()
    for block, params in plan:
        if block["check"] != "null" and null_columns:
            break  # later rules assume complete rows; report the nulls first
        sql = block["sql"].format(**params).rstrip(";")
        count, first, last, examples, found = con.execute(
            f"SELECT count(*), min(row), max(row), list(row ORDER BY row)[1:{EXAMPLES_SHOWN}], "
            f"arg_min(found::VARCHAR, row) FROM ({sql})"
        ).fetchone()
        if not count:
            continue
        if block["check"] == "null":
            null_columns.add(params["column"])
        problems.append(_problem(name, block["message"].format(**params), block["column"].format(**params),
                                 count, first, last, examples, found))
    return problems


def _problem(name: str, message: str, column: str, count: int, first: int, last: int,
             examples: list[int], found: object) -> Problem:
    if found is not None:
        message += f"; found {found!r}" if count == 1 else f"; first found {found!r}"
    if count == last - first + 1:
        return Problem(name, message, row=first, row_end=last, column=column, count=count)
    shown = ", ".join(str(r) for r in examples)
    return Problem(name, f"{message} (rows {shown}, ...)", row=first, column=column, count=count)


# --------------------------------------------------------------------------- JSON inputs


def _load_json(path: str | Path) -> object:
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError.one(name, "no such file")
    data = path.read_bytes()
    if not data.strip():
        raise InputError.one(name, "empty file: expected JSON")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError.one(name, f"not UTF-8 text (invalid byte at offset {e.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError.one(name, f"not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None


def read_theorem_list(path: str | Path) -> pa.Table:
    """A theorem index or benchmark list ``{"theorems": [{"name", "statement"}, ...]}``.

    Other top-level keys (Putnam's ``preamble``) and other entry keys are allowed.
    """
    name = str(path)
    doc = _load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("theorems"), list):
        found = type(doc).__name__ if not isinstance(doc, dict) else f"keys {sorted(doc)[:5]}"
        raise InputError.one(name, f'expected an object with a "theorems" list, found {found}')
    names, statements = [], []
    problems = []
    seen: dict[str, int] = {}
    for i, t in enumerate(doc["theorems"]):
        if not isinstance(t, dict):
            problems.append(Problem(name, f"expected an object, found {type(t).__name__}", row=i))
            continue
        for key in ("name", "statement"):
            if not isinstance(t.get(key), str) or (key == "name" and not t.get(key)):
                problems.append(Problem(name, f"expected a non-empty string, found {t.get(key)!r}"[:200], row=i, column=key))
        if problems and problems[-1].row == i:
            continue
        if t["name"] in seen:
            problems.append(Problem(name, f"duplicate theorem name {t['name']!r} (first at entry {seen[t['name']]})", row=i, column="name"))
            continue
        seen[t["name"]] = i
        names.append(t["name"])
        statements.append(t["statement"])
    if problems:
        raise InputError(_cap(problems))
    return pa.table({"name": pa.array(names, pa.string()), "statement": pa.array(statements, pa.string())})


def read_leandojo(path: str | Path) -> pa.Table:
    """LeanDojo Benchmark 4 JSON: one row per traced tactic, a (state_before, tactic) pair.

    Columns: theorem_name, file_path, tactic_index (int32), state_pp (state before),
    tactic, state_after.
    """
    name = str(path)
    doc = _load_json(path)
    if not isinstance(doc, list):
        raise InputError.one(name, f"expected a JSON list of theorems, found {type(doc).__name__}")
    cols: dict[str, list] = {k: [] for k in ("theorem_name", "file_path", "tactic_index", "state_pp", "tactic", "state_after")}
    problems = []
    for i, t in enumerate(doc):
        if not isinstance(t, dict):
            problems.append(Problem(name, f"expected a theorem object, found {type(t).__name__}", row=i))
            continue
        bad = [k for k in ("full_name", "file_path") if not isinstance(t.get(k), str)]
        if not isinstance(t.get("traced_tactics"), list):
            bad.append("traced_tactics")
        if bad:
            problems += [Problem(name, "missing or mistyped (expected " + ("a list" if k == "traced_tactics" else "a string") + ")",
                                 row=i, column=k) for k in bad]
            continue
        for j, tt in enumerate(t["traced_tactics"]):
            if not isinstance(tt, dict) or not all(isinstance(tt.get(k), str) for k in ("tactic", "state_before", "state_after")):
                problems.append(Problem(name, f"traced_tactics[{j}]: expected tactic, state_before, state_after strings",
                                        row=i, column="traced_tactics"))
                continue
            cols["theorem_name"].append(t["full_name"])
            cols["file_path"].append(t["file_path"])
            cols["tactic_index"].append(j)
            cols["state_pp"].append(tt["state_before"])
            cols["tactic"].append(tt["tactic"])
            cols["state_after"].append(tt["state_after"])
    if problems:
        raise InputError(_cap(problems))
    return pa.table({
        "theorem_name": pa.array(cols["theorem_name"], pa.string()),
        "file_path": pa.array(cols["file_path"], pa.string()),
        "tactic_index": pa.array(cols["tactic_index"], pa.int32()),
        "state_pp": pa.array(cols["state_pp"], pa.string()),
        "tactic": pa.array(cols["tactic"], pa.string()),
        "state_after": pa.array(cols["state_after"], pa.string()),
    })


def read_whole_proofs(path: str | Path) -> dict:
    """Whole-proof samples ``{theorem: {temperature: [proof, ...]}}`` (BurnQED diversity tests)."""
    name = str(path)
    doc = _load_json(path)
    ok = isinstance(doc, dict) and all(
        isinstance(v, dict) and all(isinstance(p, list) and all(isinstance(s, str) for s in p) for p in v.values())
        for v in doc.values())
    if not ok:
        raise InputError.one(name, "expected {theorem: {temperature: [proof strings]}}")
    return doc


def _cap(problems: list[Problem], limit: int = 50) -> list[Problem]:
    if len(problems) <= limit:
        return problems
    rest = len(problems) - limit
    return problems[:limit] + [Problem(problems[0].file, f"... and {rest} more problems of the kinds above")]


# --------------------------------------------------------------------------- other inputs


def read_search_config(path: str | Path) -> dict:
    """A BurnQED search config (TOML with a ``[search]`` table)."""
    name = str(path)
    p = Path(path)
    if not p.is_file():
        raise InputError.one(name, "no such file")
    try:
        doc = tomllib.loads(p.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise InputError.one(name, f"not UTF-8 text (invalid byte at offset {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError.one(name, f"not valid TOML: {e}") from None
    if not isinstance(doc.get("search"), dict):
        raise InputError.one(name, "expected a [search] table")
    return doc


def iter_burnqed_embeddings(path: str | Path, batch_rows: int = 8192) -> Iterator[tuple[pa.Array, np.ndarray]]:
    """Batches of (state strings, float64 vectors [n, dim]) from a BurnQED embeddings.parquet.

    Every vector must have the first one's dimension; nulls and non-UTF-8 states are
    errors. Zero and non-finite vectors are the embedding store's to reject (it names
    the states); this reader only guarantees a rectangular matrix.
    """
    path = Path(path)
    name = str(path)
    problems = _schema_problems(path, BURNQED_EMBEDDINGS)
    if problems:
        raise InputError(problems)
    pf = pq.ParquetFile(path)
    dim = None
    offset = 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=["state_pp", "embedding"]):
        states, vectors = batch.column(0), batch.column(1)
        if pa.types.is_dictionary(states.type):
            states = states.cast(states.type.value_type)
        if states.null_count or vectors.null_count:
            col = "state_pp" if states.null_count else "embedding"
            arr = states if states.null_count else vectors
            first = offset + int(np.flatnonzero(~np.asarray(arr.is_valid()))[0])
            raise InputError.one(name, "null value", row=first, column=col)
        try:
            states.validate(full=True)
        except pa.ArrowInvalid:
            raise InputError.one(name, "not valid UTF-8 text", row=offset, row_end=offset + len(states) - 1,
                                 column="state_pp") from None
        if pa.types.is_fixed_size_list(vectors.type):
            lengths = np.full(len(vectors), vectors.type.list_size)
        else:
            lengths = np.asarray(pc.list_value_length(vectors))
        if dim is None and len(lengths):
            dim = int(lengths[0])
        ragged = np.flatnonzero(lengths != dim)
        if len(ragged):
            r = int(ragged[0])
            raise InputError.one(name, f"ragged vectors: expected dimension {dim} (the first row's), found {int(lengths[r])}",
                                 row=offset + r, column="embedding", count=len(ragged))
        flat = np.asarray(pc.list_flatten(vectors), dtype=np.float64)
        yield states, flat.reshape(len(vectors), dim or 0)
        offset += len(vectors)
    if offset == 0:
        raise InputError.one(name, "no rows")


# --------------------------------------------------------------------------- any path


KINDS = ("trajectory", "burnqed_embeddings", "theorem_list", "leandojo", "whole_proofs", "search_config", "manifest")


def detect_kind(path: str | Path) -> str:
    """What an input file is, from its extension and a glance at its content."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        try:
            names = pq.ParquetFile(p).schema_arrow.names
        except (pa.ArrowException, OSError):
            return "trajectory"  # the reader will say what is wrong with it
        return "burnqed_embeddings" if "embedding" in names and "theorem_name" not in names else "trajectory"
    if suffix == ".toml":
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            return "search_config"
        return "manifest" if "sources" in doc or "name" in doc else "search_config"
    if suffix == ".json":
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "theorem_list"
        if isinstance(doc, list):
            first = doc[0] if doc else None
            looks_like_list = isinstance(first, dict) and "statement" in first and "traced_tactics" not in first
            return "theorem_list" if looks_like_list else "leandojo"
        if isinstance(doc, dict) and "theorems" not in doc and doc and all(isinstance(v, dict) for v in doc.values()):
            return "whole_proofs"
        return "theorem_list"
    raise InputError.one(str(p), f"unknown input kind (expected .parquet, .json or .toml, found '{suffix or 'no extension'}')")


def validate_path(path: str | Path) -> tuple[str, int | None, list[Problem]]:
    """(kind, rows or entries, problems) for any input file."""
    kind = detect_kind(path)
    try:
        if kind == "trajectory":
            info, problems = validate_trajectory_file(path)
            return kind, info.rows if info else None, problems
        if kind == "burnqed_embeddings":
            return kind, sum(len(s) for s, _ in iter_burnqed_embeddings(path)), []
        if kind == "theorem_list":
            return kind, read_theorem_list(path).num_rows, []
        if kind == "leandojo":
            return kind, read_leandojo(path).num_rows, []
        if kind == "whole_proofs":
            return kind, len(read_whole_proofs(path)), []
        if kind == "search_config":
            return kind, len(read_search_config(path)), []
        from prover_data.manifest import load_manifest

        load_manifest(path)
        return kind, None, []
    except InputError as e:
        return kind, None, e.problems
