"""LeanDojo Benchmark 4 JSON: the base tactic pairs of an iteration.

LeanDojo's tracer writes one object per theorem (``full_name``, ``file_path``,
``traced_tactics``); each traced tactic is a (state_before, tactic) pair.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from prover_data.inputs.problems import Findings
from prover_data.inputs.text_files import NotStreamable, json_array_items, json_type, load_json

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
        return leandojo_table(str(path), json_array_items(path))
    except NotStreamable:
        return leandojo_table(str(path), load_json(path))


def load_base_pairs(con, path: str | Path, *, checked: bool = True) -> int:
    """Load a LeanDojo file into ``con``'s ``base_pairs_input`` (theorem_name, tactic_index,
    state_pp, tactic); return its traced tactics.

    DuckDB's JSON reader does the work (``sql/inputs/leandojo.sql``), twice as fast as
    decoding in Python, and counts what breaks this module's rules (unless ``checked`` is
    false: a file known to be clean); a file with a problem, or one DuckDB cannot read as
    a list of objects, goes to ``read_leandojo``, which names every problem.
    """
    import duckdb

    from prover_data.sql_files import sql_steps

    steps = sql_steps("inputs/leandojo.sql")
    con.execute("SET VARIABLE base_pairs_path = ?", [str(path)])
    try:
        con.execute(steps["raw"])
        clean = not checked or con.execute(steps["problems"]).fetchall()[0][0] == 0
    except duckdb.Error:
        clean = False
    if not clean:
        read_leandojo(path)  # raises, naming every problem
        raise RuntimeError(f"{path}: DuckDB's JSON reader refused a file the Python reader accepts")
    con.execute(steps["pairs"])
    con.execute(steps["cleanup"])
    return con.execute("SELECT count(*) FROM base_pairs_input").fetchall()[0][0]


def leandojo_table(name: str, doc: object) -> pa.Table:
    """The pairs of a parsed (or streamed) document ``doc`` read from file ``name``.

    Separate from ``read_leandojo`` so that kind detection, which has already begun
    decoding the file, checks it without reading it again.
    """
    found = Findings(name)
    if isinstance(doc, (dict, str, int, float, bool)) or doc is None:
        found.whole("wrong_shape", f"expected a JSON list of theorems, found {json_type(doc)}")
        found.raise_if_any()
    cols: dict[str, list] = {f.name: [] for f in LEANDOJO_PAIRS}
    batches: list[pa.RecordBatch] = []

    def flush() -> None:  # Python strings become Arrow buffers a batch at a time
        batches.append(pa.record_batch([pa.array(cols[f.name], f.type) for f in LEANDOJO_PAIRS], schema=LEANDOJO_PAIRS))
        for v in cols.values():
            v.clear()

    for i, t in enumerate(doc):
        if not isinstance(t, dict):
            found.rows("not_an_object", None, "expected a theorem object", i, json_type(t))
            continue
        good = True
        for key in ("full_name", "file_path"):
            if not isinstance(t.get(key), str) or not t[key]:
                found.rows(f"bad_{key}", key, "expected a non-empty string", i,
                           "missing" if key not in t else json_type(t[key]))
                good = False
        tactics = t.get("traced_tactics")
        if not isinstance(tactics, list):
            found.rows("bad_traced_tactics", "traced_tactics", "expected a list of traced tactics", i,
                       "missing" if "traced_tactics" not in t else json_type(tactics))
            continue
        for j, tt in enumerate(tactics):
            if not isinstance(tt, dict):
                found.rows("bad_traced_tactic", "traced_tactics[*]", "expected a traced tactic object", i,
                           f"traced_tactics[{j}] is {json_type(tt)}")
                good = False
                continue
            for key in _TACTIC_KEYS:
                v = tt.get(key)
                ok = isinstance(v, (list, str)) if key == "annotated_tactic" else isinstance(v, str)
                if not ok:
                    found.rows(f"bad_{key}", f"traced_tactics[*].{key}",
                               "expected a list" if key == "annotated_tactic" else "expected a string", i,
                               f"traced_tactics[{j}].{key} is {'missing' if key not in tt else json_type(v)}")
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
