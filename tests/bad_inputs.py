"""A catalogue of malformed inputs, one per class of mistake, each with what the error must say.

Used by the reader and CLI tests and by ``benchmarks/reliability.py``. Every case
builds its file from a small *valid* input and breaks exactly one thing, so the error
can only come from that one thing. ``reader`` names the reader (``module.function`` of
``prover_data.inputs``) that must reject the file when kind detection would not pick
that reader (an embeddings parquet without its vector column is taken for a trajectory
file by ``validate``, which rejects it too, naming the trajectory columns it lacks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.inputs.trajectories import MAX_TEXT_BYTES
from prover_data.schema import TRAJECTORY

# ----------------------------------------------------------------------------- valid inputs


def valid_trajectory() -> dict[str, list]:
    """Two small searches: t1 proved (root -> 1 -> 3 complete, 2 off-path), t2 unproved."""
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


def schema_with(name: str, type_: pa.DataType, nullable: bool = False) -> pa.Schema:
    """TRAJECTORY with one column's type (and nullability) changed."""
    return pa.schema([pa.field(name, type_, nullable) if f.name == name else f for f in TRAJECTORY])


GOOD_THEOREM = {"name": "foo", "statement": "∀ (x : ℕ), x + 0 = x"}
GOOD_LEANDOJO = {"full_name": "Nat.foo", "file_path": "Mathlib/Foo.lean", "start": [1, 1], "end": [3, 1],
                 "url": "https://github.com/leanprover-community/mathlib4", "commit": "abc",
                 "traced_tactics": [{"tactic": "simp", "annotated_tactic": ["simp", []],
                                     "state_before": "⊢ x + 0 = x", "state_after": "no goals"}]}
GOOD_WHOLE_PROOFS = {"thm_a": {"0.9": [" intro x\n  simp"], "1.0": []}}
GOOD_SEARCH = "[search]\nmax_depth = 25\nnum_candidates = 16\n\n[lean_pool]\nnum_workers = 8\n"
MANIFEST_OK = """name = "m"
[sources]
trajectories = ["t.parquet"]
"""

# ----------------------------------------------------------------------------- makers


def _with(change: Callable[[dict], None], schema: pa.Schema = TRAJECTORY):
    def make(path: Path) -> Path:
        cols = valid_trajectory()
        change(cols)
        return write_trajectory(path, cols, schema)
    return make


def _set(col: str, row: int, value):
    def change(cols: dict) -> None:
        cols[col][row] = value
    return change


def _retyped(col: str, type_: pa.DataType, convert=lambda v: v, nullable: bool = False):
    def change(cols: dict) -> None:
        cols[col] = [convert(v) for v in cols[col]]
    return _with(change, schema_with(col, type_, nullable))


def _drop_column(path: Path) -> Path:
    cols = valid_trajectory()
    del cols["label"]
    return write_trajectory(path, cols, pa.schema([f for f in TRAJECTORY if f.name != "label"]))


def _null(col: str, row: int):
    def make(path: Path) -> Path:
        cols = valid_trajectory()
        cols[col][row] = None
        field = TRAJECTORY.field(col)
        return write_trajectory(path, cols, schema_with(col, field.type, nullable=True))
    return make


def _negative_depth(path: Path) -> Path:
    cols = valid_trajectory()
    cols["depth_from_root"][2] = -1
    return write_trajectory(path, cols, schema_with("depth_from_root", pa.int32()))


def _too_deep(path: Path) -> Path:
    cols = valid_trajectory()
    cols["visits"][4] = 2**33
    return write_trajectory(path, cols, schema_with("visits", pa.int64()))


def _cycle(path: Path) -> Path:
    """t2 gets node 2 under node 1, then node 1 is re-parented under 2: 1 -> 2 -> 1."""
    cols = valid_trajectory()
    extra = dict(theorem_name="t2", state_id=2, state_pp="⊢ 2 < 3", tactic_applied="omega", parent_state_id=1,
                 label="negative", depth_from_root=2, remaining_depth=-1, llm_log_prob=0.0, ebm_score=0.0,
                 is_proof_complete=False, timestamp_ms=7, q_value=0.0, visits=0)
    for k, v in extra.items():
        cols[k].append(v)
    cols["parent_state_id"][5] = 2
    return write_trajectory(path, cols)


def _invalid_utf8(path: Path) -> Path:
    cols = valid_trajectory()
    texts = [s.encode() for s in cols["state_pp"]]
    texts[4] = b"\xe2\x8a\xa2 1 \xff\xfe 2"
    offsets = np.cumsum([0] + [len(t) for t in texts]).astype(np.int32)
    cols["state_pp"] = pa.Array.from_buffers(
        pa.string(), len(texts), [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(texts))])
    return write_trajectory(path, cols)


def _huge_text(path: Path) -> Path:
    return _with(_set("state_pp", 2, "⊢ " + "a + " * 300_000))(path)


def _truncated(path: Path) -> Path:
    write_trajectory(path, valid_trajectory())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _corrupt_page(path: Path) -> Path:
    """A valid footer over a data page whose header is overwritten with 0xff bytes."""
    write_trajectory(path, valid_trajectory())
    column = pq.ParquetFile(path).metadata.row_group(0).column(TRAJECTORY.get_field_index("state_pp"))
    start = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(path.read_bytes())
    data[start:start + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
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


def _embeddings(vectors: list, states: list | None = None, type_: pa.DataType = pa.list_(pa.float64())):
    def make(path: Path) -> Path:
        st = states or [f"⊢ s{i}" for i in range(len(vectors))]
        pq.write_table(pa.table({"state_pp": pa.array(st, pa.string()), "embedding": pa.array(vectors, type_)}), path)
        return path
    return make


def _embedding_bad_utf8(path: Path) -> Path:
    texts = [b"\xe2\x8a\xa2 ok", b"\xc3\x28 bad"]
    offsets = np.cumsum([0] + [len(t) for t in texts]).astype(np.int32)
    states = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(texts))])
    pq.write_table(pa.table({"state_pp": states, "embedding": pa.array([[0.1, 0.2], [0.3, 0.4]])}), path)
    return path


def _embedding_states_only(path: Path) -> Path:
    pq.write_table(pa.table({"state_pp": pa.array(["⊢ a"], pa.string())}), path)
    return path


def _manifest(text: str | bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        write_trajectory(path.parent / "t.parquet", valid_trajectory())
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return path
    return make


# ----------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class BadInput:
    name: str
    suffix: str
    make: Callable[[Path], Path]
    expect: str  # a phrase the message must contain
    where: str | None = None  # column or key the problem must name
    row: int | None = None  # first row (0-based) the problem must name
    reader: str | None = None  # inputs reader that must reject it, when not found by kind detection


_TACTIC_WITHOUT_STATE = {**GOOD_LEANDOJO, "traced_tactics": [{"tactic": "simp", "annotated_tactic": ["simp", []],
                                                              "state_after": "no goals"}]}

CASES = [
    # trajectory parquet: schema
    BadInput("missing column", ".parquet", _drop_column, "missing column", "label"),
    BadInput("integer column as strings", ".parquet", _retyped("state_id", pa.string(), str), "wrong type", "state_id"),
    BadInput("text column as binary", ".parquet", _retyped("state_pp", pa.binary(), str.encode),
             "bytes, not UTF-8 text", "state_pp"),
    BadInput("float column as strings", ".parquet", _retyped("llm_log_prob", pa.string(), str), "wrong type", "llm_log_prob"),
    BadInput("boolean column as integers", ".parquet", _retyped("is_proof_complete", pa.int8(), int),
             "expected bool", "is_proof_complete"),
    # trajectory parquet: values
    BadInput("null where not allowed", ".parquet", _null("theorem_name", 2), "null value", "theorem_name", 2),
    BadInput("null label", ".parquet", _null("label", 5), "null value", "label", 5),
    BadInput("unknown label", ".parquet", _with(_set("label", 2, "maybe")), "unknown label", "label", 2),
    BadInput("negative depth", ".parquet", _negative_depth, "negative value", "depth_from_root", 2),
    BadInput("integer out of the spec'd range", ".parquet", _too_deep, "value above 4,294,967,295", "visits", 4),
    BadInput("remaining depth below -1", ".parquet", _with(_set("remaining_depth", 2, -7)), "below -1",
             "remaining_depth", 2),
    BadInput("NaN log-probability", ".parquet", _with(_set("llm_log_prob", 1, float("nan"))), "not a finite number",
             "llm_log_prob", 1),
    BadInput("infinite EBM score", ".parquet", _with(_set("ebm_score", 3, float("-inf"))), "not a finite number",
             "ebm_score", 3),
    BadInput("empty theorem name", ".parquet", _with(_set("theorem_name", 5, "")), "empty theorem name",
             "theorem_name", 5),
    BadInput("non-UTF-8 text", ".parquet", _invalid_utf8, "not valid UTF-8", "state_pp", 4),
    BadInput("huge string", ".parquet", _huge_text, "longer than", "state_pp", 2),
    # trajectory parquet: the tree
    BadInput("duplicate node id", ".parquet", _with(_set("state_id", 2, 1)), "duplicate (theorem_name, state_id)",
             "state_id", 2),
    BadInput("dangling parent", ".parquet", _with(_set("parent_state_id", 2, 42)), "names no node",
             "parent_state_id", 2),
    BadInput("parent in another theorem", ".parquet", _with(_set("parent_state_id", 5, 3)), "names no node",
             "parent_state_id", 5),
    BadInput("cycle in parent links", ".parquet", _cycle, "parent links loop", "parent_state_id", 5),
    BadInput("depth not parent + 1", ".parquet", _with(_set("depth_from_root", 3, 5)), "parent's depth + 1",
             "depth_from_root", 3),
    BadInput("root with a parent", ".parquet", _with(_set("parent_state_id", 4, 1)),
             "must have a null parent_state_id", "parent_state_id", 4),
    BadInput("null parent below the root", ".parquet", _with(_set("parent_state_id", 2, None)),
             "null parent_state_id below the root", "parent_state_id", 2),
    # trajectory parquet: the file
    BadInput("truncated parquet", ".parquet", _truncated, "truncated parquet file"),
    BadInput("not a parquet file", ".parquet", _raw(b"theorem_name,state_id\nfoo,0\n"), "not a parquet file"),
    BadInput("corrupt parquet footer", ".parquet", _raw(b"PAR1" + b"\x15\x04garbage" * 8 + b"\x20\x00\x00\x00PAR1"),
             "corrupt parquet file"),
    BadInput("corrupt data page", ".parquet", _corrupt_page, "corrupt parquet data in row group 0", "state_pp", 0),
    BadInput("empty parquet file", ".parquet", _raw(b""), "empty file (0 bytes)"),
    BadInput("parquet with no rows", ".parquet", _zero_rows, "no rows"),
    # theorem lists
    BadInput("theorem list of wrong shape", ".json", _json([GOOD_THEOREM]), 'expected an object {"theorems"'),
    BadInput("theorem list without theorems", ".json", _json({"theorem": [GOOD_THEOREM]}), 'missing key "theorems"',
             "theorems"),
    BadInput("theorems not a list", ".json", _json({"theorems": {"foo": "bar"}}), '"theorems" must be a list', "theorems"),
    BadInput("theorem entry not an object", ".json", _json({"theorems": [GOOD_THEOREM, "bar"]}),
             "expected an object with name and statement", None, 1),
    BadInput("theorem without statement", ".json", _json({"theorems": [GOOD_THEOREM, {"name": "a"}]}),
             "non-empty string", "statement", 1),
    BadInput("theorem name not a string", ".json", _json({"theorems": [{"name": 7, "statement": "s"}]}),
             "non-empty string", "name", 0),
    BadInput("duplicate theorem name", ".json", _json({"theorems": [GOOD_THEOREM, GOOD_THEOREM]}),
             "duplicate theorem name", "name", 1),
    BadInput("truncated JSON", ".json", _raw(b'{"theorems": [{"name": "a", "statem'), "not valid JSON at line 1"),
    BadInput("non-UTF-8 JSON", ".json", _raw('{"theorems": [{"name": "é", "statement": "s"}]}'.encode("latin-1")),
             "not UTF-8"),
    BadInput("empty JSON file", ".json", _raw(b"  \n"), "empty file"),
    # LeanDojo Benchmark 4
    BadInput("LeanDojo file not a list", ".json", _json(GOOD_LEANDOJO), "expected a JSON list of theorems"),
    BadInput("LeanDojo entry not an object", ".json", _json([GOOD_LEANDOJO, "oops"]), "expected a theorem object",
             None, 1),
    BadInput("LeanDojo without full_name", ".json", _json([{k: v for k, v in GOOD_LEANDOJO.items() if k != "full_name"}]),
             "non-empty string", "full_name", 0),
    BadInput("LeanDojo without traced tactics", ".json", _json([GOOD_LEANDOJO, {**GOOD_LEANDOJO, "traced_tactics": None}]),
             "expected a list of traced tactics", "traced_tactics", 1),
    BadInput("LeanDojo tactic without state", ".json", _json([_TACTIC_WITHOUT_STATE]), "expected a string",
             "traced_tactics[*].state_before", 0),
    # BurnQED embeddings parquet
    BadInput("ragged embeddings", ".parquet", _embeddings([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [0.1, 0.2]]),
             "ragged vectors", "embedding", 2),
    BadInput("null embedding", ".parquet", _embeddings([[0.1, 0.2], None]), "null vector", "embedding", 1),
    BadInput("NaN in an embedding", ".parquet", _embeddings([[0.1, 0.2], [0.3, float("nan")]]), "NaN", "embedding", 1),
    BadInput("embedding not a list", ".parquet", _embeddings([0.1, 0.2], type_=pa.float64()), "wrong type", "embedding"),
    BadInput("embedding state not UTF-8", ".parquet", _embedding_bad_utf8, "not valid UTF-8", "state_pp", 1),
    BadInput("embeddings without a vector column", ".parquet", _embedding_states_only, "missing column", "embedding",
             reader="burnqed_embeddings.iter_burnqed_embeddings"),
    # whole-proof samples, search config
    BadInput("whole proofs not strings", ".json", _json({"thm_a": {"0.9": [1, 2]}}), "expected a list of proof strings",
             None, 0),
    BadInput("search config without [search]", ".toml", _raw(b"[lean_pool]\nnum_workers = 8\n"), "missing [search] table",
             "search"),
    BadInput("search config value of wrong type", ".toml", _raw(b'[search]\nmax_depth = "25"\n'), "expected a number",
             "search.max_depth"),
    BadInput("search config not TOML", ".toml", _raw(b"[search\nmax_depth = 25\n"), "not valid TOML"),
    # manifests
    BadInput("manifest with unknown key", ".toml", _manifest(MANIFEST_OK + "[split]\nval_fracton = 0.2\n"),
             "unknown key", "split.val_fracton"),
    BadInput("manifest value of wrong type", ".toml", _manifest(MANIFEST_OK + '[split]\nval_fraction = "0.1"\n'),
             "expected float", "split.val_fraction"),
    BadInput("manifest value out of range", ".toml", _manifest(MANIFEST_OK + "[split]\nval_fraction = 1.5\n"),
             "strictly between 0 and 1", "split.val_fraction"),
    BadInput("manifest naming a missing file", ".toml", _manifest('name = "m"\n[sources]\ntrajectories = ["nope.parquet"]\n'),
             "no such file", "sources.trajectories[0]"),
    BadInput("manifest missing a required key", ".toml", _manifest('name = "m"\n'), "required key is missing", "sources"),
    BadInput("manifest that is not TOML", ".toml", _manifest('name = "m\n[sources'), "not valid TOML"),
    BadInput("manifest not UTF-8", ".toml", _manifest(b'name = "m\xe9"\n[sources]\ntrajectories = ["t.parquet"]\n'),
             "not UTF-8"),
    BadInput("manifest with bad sampler ratios", ".toml", _manifest(MANIFEST_OK + "[contrastive]\nhard_ratio = 0.9\n"),
             "sum to 1", "contrastive"),
    BadInput("manifest with unknown choice", ".toml", _manifest(MANIFEST_OK + '[filters]\npairing = "child"\n'),
             "expected one of", "filters.pairing"),
    BadInput("manifest list item of wrong type", ".toml", _manifest('name = "m"\n[sources]\ntrajectories = ["t.parquet", 3]\n'),
             "expected str", "sources.trajectories[1]"),
]


# ----------------------------------------------------------------------------- the rules' edges
# Trajectory files on either side of each value and tree rule. The rules are stated
# twice, in Python over Arrow (inputs/trajectories.py, which names each problem) and in
# the SQL a build counts them with where it loads the files (sql/checks/); this table,
# with the trajectory cases of CASES, is what holds the two equal
# (tests/test_validation_cache.py).

@dataclass(frozen=True)
class TrajectoryCase:
    name: str
    make: Callable[[Path], Path]
    bad: bool
    repeated_searches: str = "refuse"


def _retyped_with(col: str, type_: pa.DataType, row: int, value):
    """``col`` stored as ``type_`` (wider than the spec's, or signed), one value set."""
    def change(cols: dict) -> None:
        cols[col][row] = value
    return _with(change, schema_with(col, type_))


def _text_of(size: int) -> str:
    return "⊢ " + "a" * (size - len("⊢ ".encode("utf-8")))


def _twelve_columns(path: Path) -> Path:
    cols = valid_trajectory()
    del cols["q_value"], cols["visits"]
    return write_trajectory(path, cols, pa.schema([f for f in TRAJECTORY if f.name not in ("q_value", "visits")]))


def _extra_column(path: Path) -> Path:
    cols = {**valid_trajectory(), "prover": ["x"] * 6}
    return write_trajectory(path, cols, TRAJECTORY.append(pa.field("prover", pa.string())))


def _wide_text(path: Path) -> Path:
    schema = pa.schema([pa.field(f.name, pa.large_string(), False) if f.name in ("state_pp", "tactic_applied")
                        else pa.field(f.name, pa.dictionary(pa.int8(), pa.string()), False) if f.name == "label"
                        else f for f in TRAJECTORY])
    return write_trajectory(path, valid_trajectory(), schema)


def _floats(path: Path) -> Path:
    cols = valid_trajectory()
    cols["llm_log_prob"][1], cols["ebm_score"][2], cols["q_value"][3] = -1.7e308, 1.7e308, -0.0
    return write_trajectory(path, cols, schema_with("q_value", pa.float32()))


def _appended(rows: list[tuple], above: list[tuple] = ()):
    """``rows`` of (theorem, state_id, parent, depth) added at the end, ``above`` at the start."""
    def new(rows: list[tuple]) -> dict[str, list]:
        n = len(rows)
        return dict(theorem_name=[r[0] for r in rows], state_id=[r[1] for r in rows],
                    state_pp=[f"⊢ {r[0]} {r[1]}" for r in rows],
                    tactic_applied=["" if r[2] is None else "simp" for r in rows],
                    parent_state_id=[r[2] for r in rows], label=["negative"] * n,
                    depth_from_root=[r[3] for r in rows], remaining_depth=[-1] * n, llm_log_prob=[0.0] * n,
                    ebm_score=[0.0] * n, is_proof_complete=[False] * n, timestamp_ms=[9] * n,
                    q_value=[0.0] * n, visits=[0] * n)

    def change(cols: dict) -> None:
        after, before = new(rows), new(list(above))
        for k in cols:
            cols[k][:] = before[k] + cols[k] + after[k]
    return _with(change)


def _blank_name(cols: dict) -> None:
    cols["theorem_name"][4:6] = [" ", " "]  # t2's rows: blank is not empty


def _reversed(path: Path) -> Path:
    return write_trajectory(path, {k: v[::-1] for k, v in valid_trajectory().items()})


_RESTARTED = [("t2", 0, None, 0), ("t2", 1, 0, 1)]  # t2 searched again, its ids from 0 again

EDGE_TRAJECTORIES = [
    TrajectoryCase("valid", lambda p: write_trajectory(p, valid_trajectory()), False),
    TrajectoryCase("BurnQED's 12-column schema", _twelve_columns, False),
    TrajectoryCase("an extra column", _extra_column, False),
    TrajectoryCase("text as large_string and dictionary", _wide_text, False),
    TrajectoryCase("finite floats at their extremes, float32", _floats, False),
    TrajectoryCase("text at the size limit", _with(_set("state_pp", 2, _text_of(MAX_TEXT_BYTES))), False),
    TrajectoryCase("text one byte over the limit", _with(_set("tactic_applied", 2, _text_of(MAX_TEXT_BYTES + 1))),
                   True),
    TrajectoryCase("remaining depth -1", _with(_set("remaining_depth", 0, -1)), False),
    TrajectoryCase("remaining depth -2", _with(_set("remaining_depth", 0, -2)), True),
    TrajectoryCase("a blank theorem name", _with(_blank_name), False),
    TrajectoryCase("a label in capitals", _with(_set("label", 1, "Positive")), True),
    TrajectoryCase("visits at the uint32 limit, as int64", _retyped_with("visits", pa.int64(), 1, 2**32 - 1), False),
    TrajectoryCase("visits one over it", _retyped_with("visits", pa.int64(), 1, 2**32), True),
    TrajectoryCase("visits negative", _retyped_with("visits", pa.int64(), 1, -1), True),
    TrajectoryCase("timestamp 0, as int64", _retyped_with("timestamp_ms", pa.int64(), 0, 0), False),
    TrajectoryCase("timestamp negative", _retyped_with("timestamp_ms", pa.int64(), 0, -1), True),
    TrajectoryCase("state id negative", _retyped_with("state_id", pa.int64(), 5, -1), True),
    TrajectoryCase("depth as int64", _retyped_with("depth_from_root", pa.int64(), 0, 0), False),
    TrajectoryCase("NaN q-value", _with(_set("q_value", 0, float("nan"))), True),
    TrajectoryCase("rows in any order", _reversed, False),
    TrajectoryCase("a second search numbering on", _appended([("t2", 5, None, 0), ("t2", 6, 5, 1)]), False),
    TrajectoryCase("a second search restarting its ids", _appended(_RESTARTED), True),
    TrajectoryCase("a second search restarting its ids, split at roots", _appended(_RESTARTED), False,
                   "split_at_roots"),
    TrajectoryCase("a row above the first of two roots", _appended([("t2", 5, None, 0)], [("t2", 9, 0, 1)]), True),
    TrajectoryCase("a row above the first of two roots, split at roots",
                   _appended(_RESTARTED, [("t2", 9, 0, 1)]), True, "split_at_roots"),
] + [TrajectoryCase(f"null {f.name}", _null(f.name, 3), True) for f in TRAJECTORY if not f.nullable]
