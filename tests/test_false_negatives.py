"""False negatives: a state that is positive somewhere is never drawn as a negative.

Hand-built trees with dual labels inside one search and across files and theorems:

    a.parquet  T1: 0 ⊢ A (+)                        T2: 0 ⊢ E (+)
                   ├─ 1 ⊢ B "t1" (+)                    ├─ 1 ⊢ F "f" (+)
                   │   └─ 4 "" "done" (+)               │   └─ 2 "" "done" (+)
                   ├─ 2 ⊢ B "t2" (−)  same text as 1    └─ 3 ⊢ G "g" (−)  sibling
                   └─ 3 ⊢ C "t3" (−)  sibling
                       └─ 5 ⊢ D "d" (−)
               T4: 0 ⊢ P (+)
                   ├─ 1 ⊢ Q "q" (+)
                   │   └─ 3 "" "done" (+)
                   └─ 2 ⊢ F "f2" (−)  its only negative, positive in T2
    b.parquet  T3: 0 ⊢ H (−), 1 ⊢ F "f" (−) (positive in a's T2), 2 ⊢ K "k" (−)
"""

from __future__ import annotations

import pytest

from prover_data.identity import state_hash
from tests.test_views import con_for, rows

A = [
    ("T1", 0, None, "⊢ A", "", "positive", 0), ("T1", 1, 0, "⊢ B", "t1", "positive", 1),
    ("T1", 2, 0, "⊢ B", "t2", "negative", 1), ("T1", 3, 0, "⊢ C", "t3", "negative", 1),
    ("T1", 4, 1, "", "done", "positive", 2), ("T1", 5, 3, "⊢ D", "d", "negative", 2),
    ("T2", 0, None, "⊢ E", "", "positive", 0), ("T2", 1, 0, "⊢ F", "f", "positive", 1),
    ("T2", 2, 1, "", "done", "positive", 2), ("T2", 3, 0, "⊢ G", "g", "negative", 1),
    ("T4", 0, None, "⊢ P", "", "positive", 0), ("T4", 1, 0, "⊢ Q", "q", "positive", 1),
    ("T4", 2, 0, "⊢ F", "f2", "negative", 1), ("T4", 3, 1, "", "done", "positive", 2),
]
B = [("T3", 0, None, "⊢ H", "", "negative", 0), ("T3", 1, 0, "⊢ F", "f", "negative", 1),
     ("T3", 2, 0, "⊢ K", "k", "negative", 1)]
POSITIVE = {state_hash(s) for s in ("⊢ A", "⊢ B", "⊢ E", "⊢ F", "⊢ P", "⊢ Q", "")}
ALL_VAL = "[split]\nval_fraction = 0.999999\n"


def _con(tmp_path, policy: str, rounds: int = 24):
    toml = ALL_VAL + f'[contrastive]\nrounds = {rounds}\nfalse_negatives = "{policy}"\n'
    return con_for(tmp_path / policy, files={"a": A, "b": B}, toml=toml)[0]


def _samples(con) -> list[dict]:
    rel = con.execute("SELECT * FROM contrastive_samples ORDER BY split, sample_id")
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r)) for r in rel.fetchall()]


def _stats(con) -> dict:
    rel = con.execute("SELECT * FROM false_negative_stats WHERE split = 'val'")
    return dict(zip([d[0] for d in rel.description], rel.fetchone()))


def test_false_negative_records_are_flagged_by_exact_text(tmp_path):
    got = rows(_con(tmp_path, "exclude"), "SELECT source, theorem_name, state_id FROM contrastive_negative_records "
                                          "WHERE false_negative ORDER BY ALL")
    # inside one search (T1's second ⊢ B), across theorems (T4's ⊢ F) and across files (b's ⊢ F)
    assert got == [("a", "T1", 2), ("a", "T4", 2), ("b", "T3", 1)]


def test_exclude_draws_no_positive_state_in_any_tier(tmp_path):
    samples = _samples(_con(tmp_path, "exclude"))
    assert len(samples) == 24 * 3  # T1, T2, T4 each round
    for s in samples:
        assert len(s["neg_state_hashes"]) == 7
        assert not POSITIVE & set(s["neg_state_hashes"]), s
        if s["theorem_name"] == "T1":  # hard pool {⊢ C} once ⊢ B is gone; medium {⊢ D}
            assert s["neg_tiers"][:2] == ["hard", "hard"]
            assert set(s["neg_state_hashes"][:2]) == {state_hash("⊢ C")}
        if s["theorem_name"] == "T4":  # its only negative is a false one: every slot refills from easy
            assert s["neg_tiers"] == ["easy"] * 7


def test_keep_draws_them_as_burnqed_does(tmp_path):
    con = _con(tmp_path, "keep")
    assert rows(con, "SELECT count(*) FROM contrastive_negatives") == \
        rows(con, "SELECT count(*) FROM contrastive_negative_records")
    samples = _samples(con)
    t4 = [s for s in samples if s["theorem_name"] == "T4"]
    assert all(s["neg_tiers"][:2] == ["hard", "hard"] for s in t4)
    own = [s for s in samples if s["pos_state_hash"] in s["neg_state_hashes"]]
    assert own, "the fixture must make keep draw a positive's own state"
    # T1 through its sibling ⊢ B, T2 through an easy draw of ⊢ F (negative in T3 and T4)
    assert {s["theorem_name"] for s in own} == {"T1", "T2"}
    drawn = sum(h in POSITIVE for s in samples for h in s["neg_state_hashes"])
    stats = _stats(con)
    assert stats["own_positive_samples_keep"] == len(own)
    assert stats["drawn_false_negatives"] == drawn > 0
    assert stats["samples_with_false_negative"] == sum(bool(POSITIVE & set(s["neg_state_hashes"])) for s in samples)


def test_exclude_reports_what_keep_would_have_drawn(tmp_path):
    keep = _stats(_con(tmp_path, "keep"))
    exclude = _stats(_con(tmp_path, "exclude"))
    assert exclude == {**keep, "drawn_false_negatives": 0, "samples_with_false_negative": 0}
    assert (exclude["false_negative_records"], exclude["false_negative_states"]) == (3, 2)
    assert exclude["own_positive_samples_keep"] > 0


@pytest.mark.parametrize("policy", ["keep", "exclude"])
def test_counterfactual_count_needs_only_the_anchors_at_risk(tmp_path, policy):
    con = _con(tmp_path, policy)
    full = rows(con, "SELECT count(*) FROM contrastive_draws('keep', false) "
                     "WHERE list_contains(neg_state_hashes, pos_state_hash)")
    assert [(_stats(con)["own_positive_samples_keep"],)] == full
