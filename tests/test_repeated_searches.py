"""Several searches of one theorem in one file: nodes are (file, search, theorem, state id).

One file, written as a resumed run appends (T2's first search between T1's two):

    row 0-3   T1 search 0: 0 ⊢ A (+) ─ 1 ⊢ B "t1" (+) ─ 3 "" "done" (+)
                                     └ 2 ⊢ N "n" (−)   sibling of 1
    row 4-5   T2 search 0: 0 ⊢ X (+) ─ 1 "" "x" (+)
    row 6-9   T1 search 1: 0 ⊢ A (+) ─ 1 ⊢ C "t2" (+) ─ 3 "" "done2" (+)
                                                     └ 2 ⊢ M "m" (−)  sibling of 3
    row 10-11 T2 search 1: 0 ⊢ X (−) ─ 1 ⊢ Y "y" (−)   (⊢ X is positive in search 0)

Read as one search per theorem, ids 0-3 of T1 would each name two nodes.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from prover_data.manifest import load_manifest
from prover_data.views import connect
from tests.test_views import make_root, rows
from tests.views_reference import compute

NODES = [
    ("T1", 0, None, "⊢ A", "", "positive", 0), ("T1", 1, 0, "⊢ B", "t1", "positive", 1),
    ("T1", 2, 0, "⊢ N", "n", "negative", 1), ("T1", 3, 1, "", "done", "positive", 2),
    ("T2", 0, None, "⊢ X", "", "positive", 0), ("T2", 1, 0, "", "x", "positive", 1),
    ("T1", 0, None, "⊢ A", "", "positive", 0), ("T1", 1, 0, "⊢ C", "t2", "positive", 1),
    ("T1", 2, 1, "⊢ M", "m", "negative", 2), ("T1", 3, 1, "", "done2", "positive", 2),
    ("T2", 0, None, "⊢ X", "", "negative", 0), ("T2", 1, 0, "⊢ Y", "y", "negative", 1),
]
SPLIT = '[sources]\nrepeated_searches = "split_at_roots"\n'


@pytest.fixture
def split_con(tmp_path):
    m = make_root(tmp_path / "root", {"a": NODES})
    text = m.read_text().replace("[sources]\n", SPLIT)
    m.write_text(text)
    manifest = load_manifest(m)
    return connect(manifest), manifest


def test_each_root_starts_a_new_search(split_con):
    con, _ = split_con
    got = [s for (s,) in rows(con, "SELECT search FROM trajectories ORDER BY file_row")]
    assert got == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]


def test_parents_are_looked_up_in_their_own_search(split_con):
    con, _ = split_con
    got = rows(con, "SELECT search, state_id, parent_state, tactic FROM sft_candidates "
                    "WHERE theorem_name = 'T1' AND state_id = 3 ORDER BY search")
    assert got == [(0, 3, "⊢ B", "done"), (1, 3, "⊢ C", "done2")]


def test_siblings_are_matched_within_one_search(split_con):
    con, _ = split_con
    got = rows(con, "SELECT search, state_id, tier FROM contrastive_negative_records "
                    "WHERE theorem_name = 'T1' ORDER BY search")
    assert got == [(0, 2, "hard"), (1, 2, "hard")]


def test_every_proof_walks_its_own_search(split_con):
    con, _ = split_con
    got = rows(con, "SELECT theorem_name, search, step, state_pp, tactic, complete FROM proof_steps "
                    "ORDER BY theorem_name, search, step")
    assert got == [
        ("T1", 0, 0, "⊢ A", "t1", True), ("T1", 0, 1, "⊢ B", "done", True),
        ("T1", 1, 0, "⊢ A", "t2", True), ("T1", 1, 1, "⊢ C", "done2", True),
        ("T2", 0, 0, "⊢ X", "x", True),
    ]


def test_counts_equal_the_independent_computation(split_con):
    con, manifest = split_con
    for m in (manifest, replace(manifest, contrastive=replace(manifest.contrastive, false_negatives="keep"))):
        ref = compute(m)
        c = connect(m)
        cols = ("file_order", "source", "total", "positive", "usable", "empty", "sorry", "dup", "theorems", "searches")
        assert [dict(zip(cols, r)) for r in rows(c, "SELECT * FROM sft_file_stats")] == ref.files
        rel = c.execute("SELECT * FROM contrastive_stats JOIN false_negative_stats USING (split)")
        names = [d[0] for d in rel.description]
        got = {r[0]: dict(zip(names, r)) for r in rel.fetchall()}
        for split in ("train", "val"):
            assert {k: got[split][k] for k in ref.contrastive[split]} == ref.contrastive[split]
        for split in ("train", "val"):
            out = rows(c, f"SELECT * FROM out_contrastive_{split}")
            assert out == [tuple(r) for r in ref.outputs[f"contrastive_{split}"]]


# ----------------------------------------------------------------------------- validation


def _file(tmp_path, nodes, name="a.parquet"):
    from tests.bad_inputs import write_trajectory
    from tests.test_views import columns

    return write_trajectory(tmp_path / name, columns(nodes))


def _checks(path, mode):
    from prover_data.inputs.trajectories import validate_trajectory_file

    info, problems = validate_trajectory_file(path, mode)
    return info, [(p.check, p.row, p.row_end) for p in problems], problems


def test_refuse_names_the_setting_and_nothing_else(tmp_path):
    info, got, problems = _checks(_file(tmp_path, NODES), "refuse")
    assert info is None
    # the ids the second searches of T1 (rows 6-9) and T2 (rows 10-11) repeat; none of the duplicate-id noise
    assert got == [("repeated_search", 6, 11)]
    assert "repeated searches" in str(problems[0]) and 'repeated_searches = "split_at_roots"' in str(problems[0])
    assert "T1 #0 (also at row 0, in the search from row 0)" in str(problems[0])


# The same searches numbering their nodes on: T1's second search is 4-7, T2's 2-3.
NUMBERED_ON = [
    NODES[0], NODES[1], NODES[2], NODES[3], NODES[4], NODES[5],
    ("T1", 4, None, "⊢ A", "", "positive", 0), ("T1", 5, 4, "⊢ C", "t2", "positive", 1),
    ("T1", 6, 5, "⊢ M", "m", "negative", 2), ("T1", 7, 5, "", "done2", "positive", 2),
    ("T2", 2, None, "⊢ X", "", "negative", 0), ("T2", 3, 2, "⊢ Y", "y", "negative", 1),
]


def test_refuse_reads_several_roots_when_no_id_repeats(tmp_path):
    info, got, _ = _checks(_file(tmp_path, NUMBERED_ON), "refuse")
    assert got == []
    assert (info.rows, info.theorems, info.searches) == (12, 2, 4)


def test_several_roots_without_repeated_ids_build_as_split_at_roots(tmp_path):
    outputs = {}
    for mode in ("refuse", "split_at_roots"):
        m = make_root(tmp_path / mode, {"a": NUMBERED_ON})
        m.write_text(m.read_text().replace("[sources]\n", f'[sources]\nrepeated_searches = "{mode}"\n'))
        con = connect(load_manifest(m))
        outputs[mode] = {name: rows(con, f"SELECT * FROM out_{name}")
                         for name in ("sft_train", "sft_val", "contrastive_train", "contrastive_val", "states")}
        assert rows(con, "SELECT searches, repeated_theorems FROM sft_file_stats") == [(4, 2)]
    assert outputs["refuse"] == outputs["split_at_roots"]
    assert sum(len(v) for v in outputs["refuse"].values()) > 0


def test_split_at_roots_accepts_the_file_and_counts_searches(tmp_path):
    info, got, _ = _checks(_file(tmp_path, NODES), "split_at_roots")
    assert got == []
    assert (info.rows, info.theorems, info.searches) == (12, 2, 4)


@pytest.mark.parametrize("change, expected", [
    # an id repeated inside the second search of T1
    (lambda n: n[:9] + [("T1", 1, 0, "⊢ D", "t3", "negative", 1)] + n[9:], [("duplicate_node", 9, None)]),
    # a parent (T1 #4) that exists only in T1's first search
    (lambda n: n[:4] + [("T1", 4, 1, "⊢ E", "e", "negative", 2)] + n[4:] + [("T1", 5, 4, "⊢ F", "f", "negative", 3)],
     [("missing_parent", 13, None)]),
    # a row above the first of T3's two roots
    (lambda n: [("T3", 1, 0, "⊢ Q", "q", "negative", 1), ("T3", 0, None, "⊢ P", "", "negative", 0),
                ("T3", 0, None, "⊢ P", "", "negative", 0)] + n, [("before_first_root", 0, None)]),
], ids=["duplicate_in_search", "parent_in_other_search", "row_above_first_root"])
def test_split_at_roots_still_refuses_what_stays_ambiguous(tmp_path, change, expected):
    _, got, problems = _checks(_file(tmp_path, change(list(NODES))), "split_at_roots")
    assert got == expected, problems


def test_a_single_search_may_come_in_any_row_order(tmp_path):
    shuffled = [NODES[3], NODES[1], NODES[0], NODES[2]]
    for mode in ("refuse", "split_at_roots"):
        assert _checks(_file(tmp_path, shuffled), mode)[1] == []


def test_cli_validate_and_build_follow_the_setting(tmp_path, cli):
    path = _file(tmp_path, NODES)
    refused = cli("validate", str(path))
    assert refused.returncode == 2 and "repeated searches" in refused.stderr
    assert cli("validate", str(path), "--repeated-searches", "split_at_roots").returncode == 0
    m = make_root(tmp_path / "root", {"a": NODES})
    built = cli("build-manifest", str(m), "--build-dir", str(tmp_path / "build"))
    assert built.returncode == 2 and "repeated_searches" in built.stderr
    assert not (tmp_path / "build" / "t").exists()
    m.write_text(m.read_text().replace("[sources]\n", SPLIT))
    built = cli("build-manifest", str(m), "--build-dir", str(tmp_path / "build"), "--json")
    assert built.returncode == 0, built.stderr


def test_a_replica_with_resumed_searches_equals_the_independent_computation(tmp_path):
    from prover_data.inputs.leandojo import read_leandojo
    from prover_data.synth import generate
    from tests.conftest import REPO

    generate(tmp_path / "root", scale=0.01, seed=3, repeated_searches=0.25)
    m = load_manifest(REPO / "manifests" / "iter_4.toml", data_root=tmp_path / "root")
    m = replace(m, sources=replace(m.sources, repeated_searches="split_at_roots"))
    base = read_leandojo(m.resolve(m.sources.base_pairs.path))
    ref = compute(m, base)
    con = connect(m, base_pairs=base)
    cols = ("file_order", "source", "total", "positive", "usable", "empty", "sorry", "dup", "theorems", "searches")
    files = [dict(zip(cols, r)) for r in rows(con, "SELECT * FROM sft_file_stats")]
    assert files == ref.files
    assert sum(f["searches"] - f["theorems"] for f in files) > 20  # the replica holds resumed searches
    rel = con.execute("SELECT * FROM contrastive_stats JOIN false_negative_stats USING (split)")
    names = [d[0] for d in rel.description]
    got = {r[0]: dict(zip(names, r)) for r in rel.fetchall()}
    for split in ("train", "val"):
        assert {k: got[split][k] for k in ref.contrastive[split]} == ref.contrastive[split]
    for name in ("sft_train", "sft_val", "contrastive_train", "contrastive_val"):
        assert rows(con, f"SELECT * FROM out_{name}") == [tuple(r) for r in ref.outputs[name]], name
