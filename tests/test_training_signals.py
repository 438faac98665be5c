"""Preference pairs and value targets, on the hand-drawn trees of ``test_tree_labels``
and on replicas, against ``tests/signals_reference.py`` (written from the definitions).

Beside the search file, a generate-negatives chain (``own_state_sources``): its
positive records hold the tactic applied AT their own state, its negatives the wrong
tactic tried at their parent's state:

    C  0 ⊢ S0 "s0" + ─ 1 ⊢ S1 "s1" + ─ 2 ⊢ S2 "s2" +
       0 ─ 3 ⊢ W "w" −     (a wrong tactic at ⊢ S0)
       1 ─ 4 ⊢ B "v" −     (⊢ B is positive in T1: the false-negative rule leaves it out)
"""

from __future__ import annotations

import math
from dataclasses import replace

import pyarrow.parquet as pq
import pytest

from prover_data.manifest import load_manifest
from prover_data.prompts import format_prompt
from prover_data.schema import PREFERENCES, VALUES
from prover_data.views import connect
from tests.signals_reference import preferences, values
from tests.test_tree_labels import NODES, manifest_for
from tests.test_views import rows

CHAIN = [
    ("C", 0, None, "⊢ S0", "s0", "positive", 0, False, 3),
    ("C", 1, 0, "⊢ S1", "s1", "positive", 1, False, 2),
    ("C", 2, 1, "⊢ S2", "s2", "positive", 2, False, 1),
    ("C", 3, 0, "⊢ W", "w", "negative", 1, False, -1),
    ("C", 4, 1, "⊢ B", "v", "negative", 2, False, -1),
]
OWN = '[filters]\nown_state_sources = ["chain"]\n'


def _pairs(con, split="train") -> list[tuple]:
    return rows(con, f"SELECT * FROM out_preferences_{split}")


def _all_pairs(con) -> set[tuple]:
    return {(r[1], r[2]) for split in ("train", "val") for r in _pairs(con, split)}


@pytest.fixture
def trees(tmp_path):
    m = manifest_for(tmp_path, {"a": NODES, "chain": CHAIN}, OWN)
    return connect(m), m


def test_pairs_at_the_branch_points(trees):
    con, _ = trees
    # T1 at ⊢ A: b and c lead to proofs, e to none; at ⊢ B: done and d both prove -- no pair.
    # T2 at ⊢ F: f and g both prove. T4: z under a completed node has no positive sibling.
    # The chain: at ⊢ S0 s0 against w; at ⊢ S1, v reached ⊢ B, which T1 proves.
    assert _all_pairs(con) == {("b", "e"), ("c", "e"), ("s0", "w")}


def test_the_file_labels_give_the_first_proof_only(tmp_path):
    m = manifest_for(tmp_path, {"a": NODES, "chain": CHAIN}, OWN + '[labels]\nsource = "file"\n')
    # c (⊢ C) and d lead to proofs the file calls negative, but they are provable: never rejected
    assert _all_pairs(connect(m)) == {("b", "e"), ("s0", "w")}


def test_a_pair_carries_the_sft_prompt_and_the_chosen_distance(trees):
    con, _ = trees
    got = {(r[1], r[2]): r for split in ("train", "val") for r in _pairs(con, split)}
    prompt, chosen, rejected, theorem, source, _, distance, expanded = got[("b", "e")]
    assert prompt == format_prompt("⊢ A") and (theorem, source, distance, expanded) == ("T1", "a", 1, False)
    assert got[("s0", "w")][6] == 2  # the chain's ⊢ S1, two steps from its end


def test_expanded_keeps_rejected_tactics_searched_further(tmp_path):
    nodes = NODES + [("T1", 8, 7, "⊢ E2", "e2", "negative", 2, False, -1),  # ⊢ E is expanded, still no proof
                     ("T1", 9, 0, "⊢ H", "h", "negative", 1, False, -1)]  # ⊢ H never was
    m = manifest_for(tmp_path, {"a": nodes}, '[preferences]\nrejected = "expanded"\n')
    assert _all_pairs(connect(m)) == {("b", "e"), ("c", "e")}
    m = manifest_for(tmp_path / "any", {"a": nodes})
    assert _all_pairs(connect(m)) == {("b", "e"), ("c", "e"), ("b", "h"), ("c", "h")}


def test_values_of_the_hand_drawn_trees(trees):
    con, m = trees
    got = {r[0]: r[2:] for split in ("train", "val") for r in rows(con, f"SELECT * FROM out_values_{split}")}
    assert got["⊢ A"][:2] == (True, 2) and got["⊢ E"][:2] == (False, None) and got["⊢ Z"][:2] == (False, None)
    assert got["⊢ B"][:2] == (True, 1)  # provable in T1; negative as the chain's ⊢ B, the least distance anywhere
    assert "" not in got


@pytest.mark.parametrize("source", ["tree", "file"])
@pytest.mark.parametrize("rejected", ["any", "expanded"])
@pytest.mark.parametrize("max_per_parent", [0, 1])
def test_outputs_equal_the_independent_computation(tmp_path, source, rejected, max_per_parent):
    nodes = NODES + [("T1", 8, 7, "⊢ E2", "e2", "negative", 2, False, -1),
                     ("T1", 9, 0, "⊢ H", "h", "negative", 1, False, -1)]
    toml = (f'{OWN}[labels]\nsource = "{source}"\n'
            f'[preferences]\nrejected = "{rejected}"\nmax_per_parent = {max_per_parent}\n')
    m = manifest_for(tmp_path, {"a": nodes, "chain": CHAIN, "b": NODES[8:] + NODES[:8]}, toml)
    _assert_equal(connect(m), m)


def _assert_equal(con, m) -> None:
    for name, want in preferences(m).items():
        assert rows(con, f"SELECT * FROM out_{name}") == want, name
    for name, want in values(m).items():
        got = rows(con, f"SELECT * FROM out_{name}")
        assert [r[:6] for r in got] == [r[:6] for r in want], name
        assert all((a[6] is None and b[6] is None) or math.isclose(a[6], b[6], rel_tol=1e-9)
                   for a, b in zip(got, want)), name


@pytest.mark.parametrize("source", ["tree", "file"])
@pytest.mark.parametrize("rejected", ["any", "expanded"])
def test_a_replica_equals_the_independent_computation(tmp_path_factory, source, rejected):
    from tests.conftest import REPO

    root = _replica(tmp_path_factory)
    m = load_manifest(REPO / "manifests" / "iter_4.toml", data_root=root)
    m = replace(m, labels=replace(m.labels, source=source),
                preferences=replace(m.preferences, rejected=rejected))
    con = connect(m, read_base_pairs=False, embedding_tier=False)
    counts = dict(rows(con, "SELECT split, count(*) FROM preference_pairs GROUP BY ALL"))
    assert counts.get("train", 0) > (50 if rejected == "any" else 5) and counts.get("val", 0) > 0
    assert rows(con, "SELECT count(*) FROM value_targets WHERE visits > 0 AND q_value > 0")[0][0] > 100
    _assert_equal(con, m)


_REPLICA = {}


def _replica(factory):
    if "root" not in _REPLICA:
        from prover_data.synth import generate

        root = factory.mktemp("replica")
        generate(root, scale=0.01, seed=11, proofs_per_search=2)
        _REPLICA["root"] = root
    return _REPLICA["root"]


def test_a_build_writes_both_outputs_and_reports_them(tmp_path, cli):
    m = manifest_for(tmp_path, {"a": NODES, "chain": CHAIN}, OWN)
    proc = cli("build-manifest", str(m.path), "--build-dir", str(tmp_path / "build"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "build" / "t"
    for name, schema in (("preferences_train", PREFERENCES), ("preferences_val", PREFERENCES),
                         ("values_train", VALUES), ("values_val", VALUES)):
        assert pq.read_schema(out / f"{name}.parquet").equals(schema, check_metadata=False), name
    report = (out / "report.md").read_text()
    assert "## Preference Pairs (for DPO)" in report and "## Value Targets" in report
    stats = __import__("json").loads((out / "stats.json").read_text())
    assert sum(r["pairs"] for r in stats["preferences"]["by_source"]) == 3


@pytest.mark.parametrize("toml, key", [
    ('[preferences]\nrejected = "some"\n', "preferences.rejected"),
    ('[preferences]\nmax_per_parent = -1\n', "preferences.max_per_parent"),
])
def test_bad_preference_settings_are_refused_naming_the_key(tmp_path, cli, toml, key):
    m = manifest_for(tmp_path, {"a": NODES})
    m.path.write_text(m.path.read_text() + toml)
    proc = cli("build-manifest", str(m.path), "--build-dir", str(tmp_path / "build"))
    assert proc.returncode == 2 and key in proc.stderr, proc.stderr
    assert not (tmp_path / "build" / "t").exists()
