"""Parquet input files: open one, check its columns against a spec, read them.

A file that is not parquet, is cut short or has a corrupt page is told apart from
one with the wrong columns, and each is named precisely (``Problem.check``:
``empty_file``, ``not_parquet``, ``truncated``, ``corrupt``, ``missing_column``,
``repeated_column``, ``wrong_type``). Spec'd columns accept compatible storage
types (any string encoding, any integer or float width); extra columns are fine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.errors import Problem


def open_parquet(path: Path) -> tuple[pq.ParquetFile | None, list[Problem]]:
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
        return None, [Problem(name, f"corrupt parquet file: its footer does not parse ({arrow_error(e)})",
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


def column_problems(name: str, found: pa.Schema, spec: pa.Schema) -> list[Problem]:
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


def read_columns(pf: pq.ParquetFile, name: str, columns: list[str]) -> tuple[pa.Table | None, list[Problem]]:
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
                problems.append(Problem(name, f"corrupt parquet data in row group {i}: {arrow_error(e)}", row=offset,
                                        row_end=offset + n - 1 if n > 1 else None, column=c, count=max(n, 1),
                                        check="corrupt"))
        offset += n
    return None, problems or [Problem(name, f"corrupt parquet data: {arrow_error(error)}", check="corrupt")]


def arrow_error(e: Exception) -> str:
    """An Arrow/Thrift error message on one printable line."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(e)).strip()
    return text if len(text) <= 300 else text[:297] + "..."
