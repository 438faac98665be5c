"""What an input file is, for ``prover-data validate``: detect its kind, validate it, count it.

The kind comes from the extension and a look at the content: a parquet with an
``embedding`` column and no ``theorem_name`` is BurnQED embeddings, else a
trajectory file; a JSON list of theorem objects with statements is a theorem list,
of traced theorems a LeanDojo file; a JSON object of objects is whole-proof
samples; a TOML with ``[sources]`` or ``name`` is a manifest, else a search config.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.errors import InputError, Problem
from prover_data.inputs.burnqed_embeddings import iter_burnqed_embeddings
from prover_data.inputs.leandojo import leandojo_table
from prover_data.inputs.search_config import read_search_config
from prover_data.inputs.text_files import NotStreamable, json_array_items, load_json
from prover_data.inputs.theorem_lists import theorem_table
from prover_data.inputs.trajectories import validate_trajectory_file
from prover_data.inputs.whole_proofs import check_whole_proofs

KINDS = ("trajectory", "burnqed_embeddings", "theorem_list", "leandojo", "whole_proofs",
         "search_config", "manifest")


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


def inspect_path(path: str | Path, repeated_searches: str = "refuse") -> Validation:
    """Detect what ``path`` is, validate it fully, and count its records.

    ``repeated_searches`` is how a trajectory file with several searches of one theorem
    is read (the manifest's ``[sources] repeated_searches``).
    """
    p = Path(path)
    if not p.is_file():
        what = "no such file" if not p.exists() else "not a regular file"
        return Validation(p, "unknown", None, [Problem(str(p), what, check="no_file")])
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return _inspect_parquet(p, repeated_searches)
    if suffix == ".json":
        return _inspect_json(p)
    if suffix == ".toml":
        return _inspect_toml(p)
    return Validation(p, "unknown", None, [Problem(
        str(p), f"unknown input kind (expected a .parquet, .json or .toml file, found '{suffix or 'no extension'}')",
        check="unknown_kind")])


def _inspect_parquet(p: Path, repeated_searches: str) -> Validation:
    try:
        names = pq.ParquetFile(p).schema_arrow.names
        embeddings = "embedding" in names and "theorem_name" not in names
    except (pa.ArrowException, OSError):
        embeddings = "embedding" in p.name  # the reader will say what is wrong with the file
    if not embeddings:
        info, problems = validate_trajectory_file(p, repeated_searches)
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
        items = json_array_items(p)
        first = next(items, None)
        if not _json_kind([first] if first is not None else []) == "leandojo":
            raise NotStreamable
        rows = leandojo_table(str(p), itertools.chain([first] if first is not None else [], items)).num_rows
        return Validation(p, "leandojo", rows, [])
    except InputError as e:
        return Validation(p, "leandojo", None, e.problems)
    except NotStreamable:
        pass
    try:
        doc = load_json(p)
    except InputError as e:  # guess the kind from the first character, for the report
        head = p.read_bytes()[:4096].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
        return Validation(p, "leandojo" if head.startswith("[") else "theorem_list", None, e.problems)
    kind = _json_kind(doc)
    try:
        if kind == "leandojo":
            rows = leandojo_table(str(p), doc).num_rows
        elif kind == "whole_proofs":
            rows = len(check_whole_proofs(str(p), doc))
        else:
            rows = theorem_table(str(p), doc).num_rows
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
