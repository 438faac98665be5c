"""A catalogue of malformed inputs, one per class of mistake, each with what the error must say.

Used by the reader tests and by ``benchmarks/reliability.py``. Every case builds its
file from a small *valid* input and breaks exactly one thing, so the error can only
come from that one thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.schema import TRAJECTORY


def valid_trajectory() -> dict[str, list]:
    """Two small searches: t1 proved (root -> 1 -> 3 complete), t2 unproved."""
    return dict(
        theorem_name=["t1", "t1", "t1", "t1", "t2", "t2"],
        state_id=[0, 1, 2, 3, 0, 1],
        state_pp=["x : ℕ\n⊢ x + 0 = x", "⊢ x = x", "⊢ False", "", "⊢ 1 ≤ 2", "⊢ 1 < 2"],
        tactic_applied=["", "simp only [Nat.add_zero]", "exfalso", "rfl", "", "norm_num"],
        parent_state_id=[None, 0, 0, 1, None, 0],
        label=["positive", "positive", "negative", "positive", "negative", "negative"],
        depth_from_root=[0, 1, 1, 2, 0, 1],
        remaining_depth=[2, 1, -1, 0, -1, -1],
        llm_log_prob=[0.0, -0.5, -2.0, -0.1, 0.0, -1.0],
        ebm_score=[0.0] * 6,
        is_proof_complete=[False, False, False, True, False, False],
        timestamp_ms=[1, 2, 3, 4, 5, 6],
        q_value=[0.0] * 6,
        visits=[0] * 6,
    )


def write_trajectory(path: Path, cols: dict[str, list], schema: pa.Schema = TRAJECTORY) -> Path:
    pq.write_table(pa.table(cols, schema=schema), path)
    return path


def _with(change: Callable[[dict], None], schema: pa.Schema = TRAJECTORY):
    def make(path: Path) -> Path:
        cols = valid_trajectory()
        change(cols)
        return write_trajectory(path, cols, schema)
    return make


def _schema_with(name: str, type_: pa.DataType, nullable: bool = False) -> pa.Schema:
    return pa.schema([pa.field(name, type_, nullable) if f.name == name else f for f in TRAJECTORY])


def _set(col: str, row: int, value):
    def change(cols: dict) -> None:
        cols[col][row] = value
    return change


def _drop_column(path: Path) -> Path:
    cols = valid_trajectory()
    del cols["label"]
    return write_trajectory(path, cols, pa.schema([f for f in TRAJECTORY if f.name != "label"]))


def _state_id_as_string(path: Path) -> Path:
    cols = valid_trajectory()
    cols["state_id"] = [str(v) for v in cols["state_id"]]
    return write_trajectory(path, cols, _schema_with("state_id", pa.string()))


def _null_theorem(path: Path) -> Path:
    cols = valid_trajectory()
    cols["theorem_name"][2] = None
    return write_trajectory(path, cols, _schema_with("theorem_name", pa.string(), nullable=True))


def _negative_depth(path: Path) -> Path:
    cols = valid_trajectory()
    cols["depth_from_root"][2] = -1
    return write_trajectory(path, cols, _schema_with("depth_from_root", pa.int32()))


def _cycle(path: Path) -> Path:
    cols = valid_trajectory()
    # t2: 1 -> 2 -> 1, neither reaches the root
    cols["theorem_name"] += ["t2"]
    cols["state_id"] += [2]
    cols["state_pp"] += ["⊢ 2 < 3"]
    cols["tactic_applied"] += ["omega"]
    cols["parent_state_id"] += [1]
    cols["label"] += ["negative"]
    cols["depth_from_root"] += [2]
    cols["remaining_depth"] += [-1]
    for c in ("llm_log_prob", "ebm_score", "q_value"):
        cols[c] += [0.0]
    cols["is_proof_complete"] += [False]
    cols["timestamp_ms"] += [7]
    cols["visits"] += [0]
    cols["parent_state_id"][5] = 2
    return write_trajectory(path, cols)


def _invalid_utf8(path: Path) -> Path:
    cols = valid_trajectory()
    texts = [s.encode() for s in cols["state_pp"]]
    texts[4] = b"\xe2\x8a\xa2 1 \xff\xfe 2"
    offsets = np.cumsum([0] + [len(t) for t in texts]).astype(np.int32)
    arr = pa.Array.from_buffers(pa.string(), len(texts), [None, pa.py_buffer(offsets.tobytes()),
                                                          pa.py_buffer(b"".join(texts))])
    cols["state_pp"] = arr
    return write_trajectory(path, cols)


def _huge_text(path: Path) -> Path:
    return _with(_set("state_pp", 2, "⊢ " + "a + " * 300_000))(path)


def _truncated(path: Path) -> Path:
    write_trajectory(path, valid_trajectory())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _garbage(path: Path) -> Path:
    path.write_bytes(b"PAR1 this is not really parquet \x00\x01\x02")
    return path


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _zero_rows(path: Path) -> Path:
    pq.write_table(TRAJECTORY.empty_table(), path)
    return path


def _json(obj) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
        return path
    return make


def _raw(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return make


GOOD_THEOREM = {"name": "foo", "statement": "∀ (x : ℕ), x + 0 = x"}
GOOD_LEANDOJO = {"full_name": "Nat.foo", "file_path": "Mathlib/Foo.lean", "start": [1, 1], "end": [3, 1],
                 "url": "https://github.com/leanprover-community/mathlib4", "commit": "abc",
                 "traced_tactics": [{"tactic": "simp", "annotated_tactic": ["simp", []],
                                     "state_before": "⊢ x + 0 = x", "state_after": "no goals"}]}


def _embeddings(vectors: list, states: list | None = None) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        st = states or [f"⊢ s{i}" for i in range(len(vectors))]
        pq.write_table(pa.table({"state_pp": pa.array(st, pa.string()),
                                 "embedding": pa.array(vectors, pa.list_(pa.float64()))}), path)
        return path
    return make


MANIFEST_OK = """name = "m"
[sources]
trajectories = ["t.parquet"]
"""


def _manifest(text: str) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        write_trajectory(path.parent / "t.parquet", valid_trajectory())
        path.write_text(text, encoding="utf-8")
        return path
    return make


@dataclass(frozen=True)
class BadInput:
    name: str
    suffix: str
    make: Callable[[Path], Path]
    expect: str  # a phrase the message must contain
    where: str | None = None  # column or manifest key the problem must name


CASES = [
    # trajectory parquet
    BadInput("missing column", ".parquet", _drop_column, "missing column", "label"),
    BadInput("wrong type", ".parquet", _state_id_as_string, "wrong type", "state_id"),
    BadInput("null where not allowed", ".parquet", _null_theorem, "null value", "theorem_name"),
    BadInput("unknown label", ".parquet", _with(_set("label", 2, "maybe")), "unknown label", "label"),
    BadInput("duplicate node id", ".parquet", _with(_set("state_id", 2, 1)), "duplicate (theorem_name, state_id)", "state_id"),
    BadInput("dangling parent", ".parquet", _with(_set("parent_state_id", 2, 42)), "names no node", "parent_state_id"),
    BadInput("cycle in parent links", ".parquet", _cycle, "cycle", "parent_state_id"),
    BadInput("negative depth", ".parquet", _negative_depth, "negative value", "depth_from_root"),
    BadInput("depth not parent + 1", ".parquet", _with(_set("depth_from_root", 3, 5)), "parent's depth + 1", "depth_from_root"),
    BadInput("root with a parent", ".parquet", _with(_set("parent_state_id", 0, 0)), "null exactly at roots", "parent_state_id"),
    BadInput("remaining depth below -1", ".parquet", _with(_set("remaining_depth", 2, -7)), "below -1", "remaining_depth"),
    BadInput("NaN log-probability", ".parquet", _with(_set("llm_log_prob", 1, float("nan"))), "not a finite number", "llm_log_prob"),
    BadInput("empty theorem name", ".parquet", _with(_set("theorem_name", 5, "")), "empty theorem name", "theorem_name"),
    BadInput("non-UTF-8 text", ".parquet", _invalid_utf8, "not valid UTF-8", "state_pp"),
    BadInput("huge string", ".parquet", _huge_text, "longer than", "state_pp"),
    BadInput("truncated parquet", ".parquet", _truncated, "not a readable parquet"),
    BadInput("corrupt parquet", ".parquet", _garbage, "not a readable parquet"),
    BadInput("empty parquet file", ".parquet", _empty, "empty file"),
    BadInput("parquet with no rows", ".parquet", _zero_rows, "no rows"),
    # theorem lists
    BadInput("theorem list of wrong shape", ".json", _json([GOOD_THEOREM]), '"theorems" list'),
    BadInput("theorem without statement", ".json", _json({"theorems": [{"name": "a"}]}), "non-empty string", "statement"),
    BadInput("theorem name not a string", ".json", _json({"theorems": [{"name": 7, "statement": "s"}]}), "non-empty string", "name"),
    BadInput("duplicate theorem name", ".json", _json({"theorems": [GOOD_THEOREM, GOOD_THEOREM]}), "duplicate theorem name", "name"),
    BadInput("truncated JSON", ".json", _raw(b'{"theorems": [{"name": "a", "statem'), "not valid JSON at line"),
    BadInput("non-UTF-8 JSON", ".json", _raw('{"theorems": [{"name": "a", "statement": "\u22a2"}]}'.encode("utf-16")), "not UTF-8"),
    BadInput("empty JSON file", ".json", _raw(b"  \n"), "empty file"),
    # LeanDojo Benchmark 4
    BadInput("LeanDojo entry not an object", ".json", _json([GOOD_LEANDOJO, "oops"]), "expected a theorem object"),
    BadInput("LeanDojo without traced tactics", ".json", _json([{**GOOD_LEANDOJO, "traced_tactics": None}]), "missing or mistyped", "traced_tactics"),
    BadInput("LeanDojo tactic without state", ".json",
             _json([{**GOOD_LEANDOJO, "traced_tactics": [{"tactic": "simp", "state_after": "no goals"}]}]),
             "state_before", "traced_tactics"),
    # BurnQED embeddings parquet
    BadInput("ragged embeddings", ".parquet", _embeddings([[0.1, 0.2, 0.3], [0.1, 0.2]]), "ragged vectors", "embedding"),
    BadInput("null embedding", ".parquet", _embeddings([[0.1, 0.2], None]), "null value", "embedding"),
    # search config
    BadInput("search config without [search]", ".toml", _raw(b"[lean_pool]\nnum_workers = 8\n"), "[search] table"),
    # manifests
    BadInput("manifest with unknown key", ".toml", _manifest(MANIFEST_OK + "[split]\nval_fracton = 0.2\n"), "unknown key", "split.val_fracton"),
    BadInput("manifest value of wrong type", ".toml", _manifest(MANIFEST_OK + '[split]\nval_fraction = "0.1"\n'), "expected float", "split.val_fraction"),
    BadInput("manifest value out of range", ".toml", _manifest(MANIFEST_OK + "[split]\nval_fraction = 1.5\n"), "strictly between 0 and 1", "split.val_fraction"),
    BadInput("manifest naming a missing file", ".toml", _manifest('name = "m"\n[sources]\ntrajectories = ["nope.parquet"]\n'), "no such file", "sources.trajectories[0]"),
    BadInput("manifest missing a required key", ".toml", _manifest('name = "m"\n'), "required key is missing", "sources"),
    BadInput("manifest that is not TOML", ".toml", _manifest('name = "m\n[sources'), "not valid TOML"),
    BadInput("manifest with bad sampler ratios", ".toml", _manifest(MANIFEST_OK + "[contrastive]\nhard_ratio = 0.9\n"), "sum to 1", "contrastive"),
    BadInput("manifest with unknown choice", ".toml", _manifest(MANIFEST_OK + '[filters]\npairing = "child"\n'), "expected one of", "filters.pairing"),
]
