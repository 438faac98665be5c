"""Labels from the search trees ([labels] source = "tree") against the files' own.

Hand-drawn trees, labelled as BurnQED's writer labels them (only the path to a search's
first completed record positive; every later proof and its path negative, remaining
depth -1). ``*`` marks a completed node:

    T1 (three proofs)            0 ⊢ A  +
                                 ├─ 1 ⊢ B "b" +
                                 │   ├─ 3* "" "done" +      proof 1, the first
                                 │   └─ 4 ⊢ D "d" −
                                 │       └─ 6* "" "done3" − proof 3, shares 0 and 1 with proof 1
                                 ├─ 2 ⊢ C "c" −
                                 │   └─ 5* "" "done2" −     proof 2
                                 └─ 7 ⊢ E "e" −             a dead end
    T2 (two proofs)              0 ⊢ F +  ─ 1* "" "f" +,  0 ─ 2 ⊢ G "g" − ─ 3* "" "g2" −
    T3 (a file-positive path     0 ⊢ P +  ─ 1 ⊢ Q "q" +   (no completed node: the file listed
        without its end)                                    the path without its final node)
    T4 (a completed node with    0 ⊢ R −  ─ 1* "" "fin" − ─ 2 ⊢ Z "z" −
        a child)

Every count is held to ``tests/views_reference.py``, which labels the trees in plain
Python from the definitions, not from the SQL.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pyarrow as pa
import pytest

from prover_data.manifest import load_manifest
from prover_data.schema import TRAJECTORY, TRAJECTORY_12
from prover_data.views import connect
from tests.bad_inputs import write_trajectory
from tests.test_views import rows
from tests.views_reference import compute

# (theorem, state_id, parent, state, tactic, file label, depth, complete, file remaining_depth)
NODES = [
    ("T1", 0, None, "⊢ A", "", "positive", 0, False, 2),
    ("T1", 1, 0, "⊢ B", "b", "positive", 1, False, 1),
    ("T1", 2, 0, "⊢ C", "c", "negative", 1, False, -1),
    ("T1", 3, 1, "", "done", "positive", 2, True, 0),
    ("T1", 4, 1, "⊢ D", "d", "negative", 2, False, -1),
    ("T1", 5, 2, "", "done2", "negative", 2, True, -1),
    ("T1", 6, 4, "", "done3", "negative", 3, True, -1),
    ("T1", 7, 0, "⊢ E", "e", "negative", 1, False, -1),
    ("T2", 0, None, "⊢ F", "", "positive", 0, False, 1),
    ("T2", 1, 0, "", "f", "positive", 1, True, 0),
    ("T2", 2, 0, "⊢ G", "g", "negative", 1, False, -1),
    ("T2", 3, 2, "", "g2", "negative", 2, True, -1),
    ("T3", 0, None, "⊢ P", "", "positive", 0, False, 1),
    ("T3", 1, 0, "⊢ Q", "q", "positive", 1, False, 0),
    ("T4", 0, None, "⊢ R", "", "negative", 0, False, -1),
    ("T4", 1, 0, "", "fin", "negative", 1, True, -1),
    ("T4", 2, 1, "⊢ Z", "z", "negative", 2, False, -1),
]

# (theorem, state_id) -> (tree label, remaining_depth under tree labels), from the definitions
EXPECTED = {
    ("T1", 0): ("positive", 2), ("T1", 1): ("positive", 1), ("T1", 2): ("positive", 1),
    ("T1", 3): ("positive", 0), ("T1", 4): ("positive", 1), ("T1", 5): ("positive", 0),
    ("T1", 6): ("positive", 0), ("T1", 7): ("negative", -1),
    ("T2", 0): ("positive", 1), ("T2", 1): ("positive", 0), ("T2", 2): ("positive", 1), ("T2", 3): ("positive", 0),
    ("T3", 0): ("positive", 1), ("T3", 1): ("positive", 0),  # the file's own remaining_depth
    ("T4", 0): ("positive", 1), ("T4", 1): ("positive", 0), ("T4", 2): ("negative", -1),
}


def columns(nodes, schema: pa.Schema = TRAJECTORY) -> dict[str, list]:
    cols = {f: [] for f in schema.names}
    for theorem, sid, parent, state, tactic, label, depth, complete, remaining in nodes:
        row = dict(theorem_name=theorem, state_id=sid, state_pp=state, tactic_applied=tactic, parent_state_id=parent,
                   label=label, depth_from_root=depth, remaining_depth=remaining, llm_log_prob=-1.0, ebm_score=0.0,
                   is_proof_complete=complete, timestamp_ms=sid, q_value=0.0, visits=0)
        for k in schema.names:
            cols[k].append(row[k])
    return cols


def manifest_for(tmp_path, files: dict[str, list], toml: str = "", schema: pa.Schema = TRAJECTORY):
    root = tmp_path / "root"
    root.mkdir(parents=True, exist_ok=True)
    for name, nodes in files.items():
        write_trajectory(root / f"{name}.parquet", columns(nodes, schema), schema)
    names = ", ".join(f'"{n}.parquet"' for n in files)
    (root / "m.toml").write_text(f'name = "t"\n[sources]\ntrajectories = [{names}]\n{toml}', encoding="utf-8")
    return load_manifest(root / "m.toml")


@pytest.fixture
def labelled(tmp_path):
    m = manifest_for(tmp_path, {"a": NODES})
    return connect(m), m


def test_tree_labels_follow_the_definitions(labelled):
    con, _ = labelled
    got = {(t, s): (label, depth) for t, s, label, depth in
           rows(con, "SELECT theorem_name, state_id, label, remaining_depth FROM trajectories")}
    assert got == EXPECTED


def test_file_labels_are_kept_beside_the_tree_verdict(labelled):
    con, _ = labelled
    got = rows(con, "SELECT theorem_name, state_id, file_label, provable, distance, relabelled FROM trajectories "
                    "WHERE theorem_name IN ('T3', 'T4') ORDER BY ALL")
    assert got == [("T3", 0, "positive", False, None, False), ("T3", 1, "positive", False, None, False),
                   ("T4", 0, "negative", True, 1, True), ("T4", 1, "negative", True, 0, True),
                   ("T4", 2, "negative", False, None, False)]


def test_the_file_source_takes_the_files_labels_as_they_are(tmp_path):
    m = manifest_for(tmp_path, {"a": NODES}, '[labels]\nsource = "file"\n')
    got = rows(connect(m), "SELECT theorem_name, state_id, label, remaining_depth FROM trajectories ORDER BY ALL")
    assert got == [(n[0], n[1], n[5], n[8]) for n in sorted(NODES, key=lambda n: (n[0], n[1]))]


def test_sft_pairs_come_from_every_proof(labelled):
    con, _ = labelled
    got = rows(con, "SELECT theorem_name, state_pp, tactic FROM sft_pairs ORDER BY ALL")
    assert got == [("T1", "⊢ A", "b"), ("T1", "⊢ A", "c"), ("T1", "⊢ B", "d"), ("T1", "⊢ B", "done"),
                   ("T1", "⊢ C", "done2"), ("T1", "⊢ D", "done3"), ("T2", "⊢ F", "f"), ("T2", "⊢ F", "g"),
                   ("T2", "⊢ G", "g2"), ("T3", "⊢ P", "q"), ("T4", "⊢ R", "fin")]


def test_provable_states_are_never_negatives(labelled):
    con, _ = labelled
    got = rows(con, "SELECT theorem_name, state_id, tier FROM contrastive_negative_records ORDER BY ALL")
    assert got == [("T1", 7, "hard"), ("T4", 2, "medium")]


def test_label_statistics(labelled):
    con, _ = labelled
    stats = dict(zip(("completed", "relabelled", "provable_neg", "provable_neg_states", "without_proof"),
                     rows(con, "SELECT completed_nodes, relabelled_nodes, provable_file_negatives, "
                               "provable_file_negative_states, positive_without_proof FROM label_stats")[0]))
    assert stats == {"completed": 6, "relabelled": 8, "provable_neg": 8, "provable_neg_states": 5, "without_proof": 2}
    assert rows(con, "SELECT * FROM proofs_per_search") == [(1, 1), (2, 1), (3, 1)]
    tree, file, only_tree, only_file = rows(con, "SELECT sft_pairs_tree, sft_pairs_file, sft_pairs_only_tree, "
                                                 "sft_pairs_only_file FROM label_agreement")[0]
    assert (tree, file, only_tree, only_file) == (11, 4, 7, 0)


@pytest.mark.parametrize("source", ["tree", "file"])
@pytest.mark.parametrize("false_negatives", ["exclude", "keep"])
def test_counts_and_outputs_equal_the_independent_computation(tmp_path, source, false_negatives):
    m = manifest_for(tmp_path, {"a": NODES, "b": NODES[8:] + NODES[:8]},
                     f'[labels]\nsource = "{source}"\n[contrastive]\nfalse_negatives = "{false_negatives}"\n'
                     'rounds = 3\n')
    _assert_equal_to_reference(connect(m), m)


def _assert_equal_to_reference(con, m, base=None) -> None:
    ref = compute(m, base)
    cols = ("file_order", "source", "total", "positive", "usable", "empty", "sorry", "dup", "theorems", "searches")
    assert [dict(zip(cols, r)) for r in rows(con, "SELECT * FROM sft_file_stats")] == ref.files
    rel = con.execute("SELECT * FROM contrastive_stats JOIN false_negative_stats USING (split)")
    names = [d[0] for d in rel.description]
    got = {r[0]: dict(zip(names, r)) for r in rel.fetchall()}
    for split in ("train", "val"):
        assert {k: got[split][k] for k in ref.contrastive[split]} == ref.contrastive[split]
    for name in ("sft_train", "sft_val", "contrastive_train", "contrastive_val", "states"):
        assert rows(con, f"SELECT * FROM out_{name}") == [tuple(r) for r in ref.outputs[name]], name


def test_proof_paths_walk_every_proof(labelled):
    con, _ = labelled
    proofs = rows(con, "SELECT theorem_name, proof_end, count(*) FROM proof_steps GROUP BY ALL ORDER BY ALL")
    assert proofs == [("T1", 3, 2), ("T1", 5, 2), ("T1", 6, 3), ("T2", 1, 1), ("T2", 3, 2), ("T4", 1, 1)]


# ----------------------------------------------------------------------------- trees that cannot be labelled


LOOP = [
    ("L", 0, None, "⊢ L", "", "negative", 0, False, -1),
    ("L", 1, 2, "⊢ M", "m", "negative", 1, False, -1),
    ("L", 2, 1, "", "n", "negative", 2, True, -1),
]


def test_a_parent_loop_is_refused_and_cannot_make_the_labelling_run_on(tmp_path):
    from prover_data.inputs.trajectories import validate_trajectory_file

    m = manifest_for(tmp_path, {"a": LOOP})
    _, problems = validate_trajectory_file(m.trajectory_paths()[0])
    assert problems and all(p.row in (1, 2) for p in problems), problems
    # the views themselves (a connection that never validated) still end, the walk cut at the deepest depth
    got = rows(connect(m), "SELECT state_id, provable, distance FROM trajectories ORDER BY state_id")
    assert got == [(0, False, None), (1, True, 1), (2, True, 0)]


def test_a_build_refuses_a_loop_naming_its_rows(tmp_path, cli):
    m = manifest_for(tmp_path, {"a": LOOP})
    built = cli("build-manifest", str(m.path), "--build-dir", str(tmp_path / "build"))
    assert built.returncode == 2 and "a.parquet" in built.stderr and "row" in built.stderr
    assert not (tmp_path / "build" / "t").exists()


# ----------------------------------------------------------------------------- 12-column files


def _digest(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_a_12_column_file_builds_as_the_same_file_with_zeros(tmp_path, cli):
    built = {}
    for schema in (TRAJECTORY_12, TRAJECTORY):
        m = manifest_for(tmp_path / str(len(schema)), {"a": NODES}, schema=schema)
        out = tmp_path / f"build{len(schema)}"
        proc = cli("build-manifest", str(m.path), "--build-dir", str(out), "--json")
        assert proc.returncode == 0, proc.stderr
        built[len(schema)] = out / "t"
    for name in ("sft_train", "sft_val", "contrastive_train", "contrastive_val", "contrastive_pools", "states"):
        assert _digest(built[12] / f"{name}.parquet") == _digest(built[14] / f"{name}.parquet"), name
    report = (built[12] / "report.md").read_text()
    assert "| a.parquet |" in report and "12 (no q_value, visits: read as 0)" in report


def test_a_12_column_file_reads_its_values_as_zero(tmp_path):
    m = manifest_for(tmp_path, {"a": NODES}, schema=TRAJECTORY_12)
    con = connect(m)
    assert rows(con, "SELECT DISTINCT q_value, visits FROM trajectories") == [(0.0, 0)]
    assert rows(con, "SELECT search_values FROM trajectory_files") == [(False,)]


def test_validate_accepts_12_columns_and_refuses_one_of_the_two(tmp_path, cli):
    path = write_trajectory(tmp_path / "v1.parquet", columns(NODES, TRAJECTORY_12), TRAJECTORY_12)
    assert cli("validate", str(path)).returncode == 0
    for kept in ("q_value", "visits"):
        schema = pa.schema([f for f in TRAJECTORY if f.name != ({"q_value", "visits"} - {kept}).pop()])
        half = write_trajectory(tmp_path / f"only_{kept}.parquet", columns(NODES, schema), schema)
        proc = cli("validate", str(half))
        missing = ({"q_value", "visits"} - {kept}).pop()
        assert proc.returncode == 2 and missing in proc.stderr and "missing column" in proc.stderr, proc.stderr
    wrong = pa.schema([pa.field("visits", pa.string()) if f.name == "visits" else f for f in TRAJECTORY])
    cols = columns(NODES)
    cols["visits"] = [str(v) for v in cols["visits"]]
    proc = cli("validate", str(write_trajectory(tmp_path / "wrong.parquet", cols, wrong)))
    assert proc.returncode == 2 and "visits" in proc.stderr and "wrong type" in proc.stderr


# ----------------------------------------------------------------------------- replicas


@pytest.mark.parametrize("source", ["tree", "file"])
def test_a_replica_with_several_proofs_per_search_equals_the_independent_computation(tmp_path, source):
    from prover_data.inputs.leandojo import read_leandojo
    from prover_data.synth import generate
    from tests.conftest import REPO

    generate(tmp_path / "root", scale=0.01, seed=5, proofs_per_search=3, schema=12)
    m = load_manifest(REPO / "manifests" / "iter_4.toml", data_root=tmp_path / "root")
    m = replace(m, labels=replace(m.labels, source=source))
    base = read_leandojo(m.resolve(m.sources.base_pairs.path))
    con = connect(m, base_pairs=base, embedding_tier=False)
    per_search = dict(rows(con, "SELECT * FROM proofs_per_search"))
    assert max(per_search) == 3 and per_search[3] > 10  # the replica holds searches that went on
    assert rows(con, "SELECT bool_or(search_values) FROM trajectory_files") == [(False,)]
    relabelled = rows(con, "SELECT count(*) FILTER (WHERE relabelled) FROM trajectories")[0][0]
    assert relabelled > 50
    _assert_equal_to_reference(con, m, base)
