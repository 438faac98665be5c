"""The contract of every view in sql/, on hand-built tiny search trees.

Two trajectory files (manifest order a, b) and one file with a dangling parent:

    a.parquet  T1: 0 ⊢ A (root, +)                 T2: 0 ⊢ A (root, +)
                   ├─ 1 ⊢ B  "t1"  +                   └─ 1 ⊢ B "t1" +   (same pair as T1's, same file)
                   │   ├─ 3 ""  "done" + (completed)
                   │   ├─ 5 ⊢ U  "y"   unknown
                   │   └─ 6 ⊢ S  "  sorry " +
                   └─ 2 ⊢ N1 "bad" −  (sibling of 1)
                       └─ 4 ⊢ N2 "x" − (non-sibling)
    b.parquet  T1 (a second search; ids reused):   T3 (no positive):
                   0 ⊢ A (root, +)                     0 ⊢ Z (root, −)
                   ├─ 1 ⊢ C  " t1 " +                  └─ 1 ⊢ Y "z" −
                   │   └─ 2 ⊢ N3 "w" − (sibling only by BurnQED's cross-file rule)
                   └─ 3 ⊢ B  "v" −   (sibling; ⊢ B is positive in a: both labels)
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prover_data.identity import split_bucket, state_hash
from prover_data.manifest import load_manifest
from prover_data.schema import CONTRASTIVE, SFT_PAIRS, STATES
from prover_data.sql_files import all_sql_files, define_macros, sql_files
from prover_data.views import connect
from tests.bad_inputs import write_trajectory

Node = tuple  # (theorem, state_id, parent, state_pp, tactic, label, depth)

A_NODES = [
    ("T1", 0, None, "⊢ A", "", "positive", 0),
    ("T1", 1, 0, "⊢ B", "t1", "positive", 1),
    ("T1", 2, 0, "⊢ N1", "bad", "negative", 1),
    ("T1", 3, 1, "", "done", "positive", 2),
    ("T1", 4, 2, "⊢ N2", "x", "negative", 2),
    ("T1", 5, 1, "⊢ U", "y", "unknown", 2),
    ("T1", 6, 1, "⊢ S", "  sorry ", "positive", 2),
    ("T2", 0, None, "⊢ A", "", "positive", 0),
    ("T2", 1, 0, "⊢ B", "t1", "positive", 1),
]
B_NODES = [
    ("T1", 0, None, "⊢ A", "", "positive", 0),
    ("T1", 1, 0, "⊢ C", " t1 ", "positive", 1),
    ("T1", 2, 1, "⊢ N3", "w", "negative", 2),
    ("T1", 3, 0, "⊢ B", "v", "negative", 1),
    ("T3", 0, None, "⊢ Z", "", "negative", 0),
    ("T3", 1, 0, "⊢ Y", "z", "negative", 1),
]


def columns(nodes: list[Node]) -> dict[str, list]:
    cols = {k: [] for k in ("theorem_name", "state_id", "state_pp", "tactic_applied", "parent_state_id", "label",
                            "depth_from_root", "remaining_depth", "llm_log_prob", "ebm_score",
                            "is_proof_complete", "timestamp_ms", "q_value", "visits")}
    for theorem, sid, parent, state, tactic, label, depth in nodes:
        for k, v in (("theorem_name", theorem), ("state_id", sid), ("state_pp", state), ("tactic_applied", tactic),
                     ("parent_state_id", parent), ("label", label), ("depth_from_root", depth),
                     ("remaining_depth", 0 if label == "positive" else -1), ("llm_log_prob", -1.0),
                     ("ebm_score", 0.0), ("is_proof_complete", state == "" and label == "positive"),
                     ("timestamp_ms", sid), ("q_value", 0.0), ("visits", 0)):
            cols[k].append(v)
    return cols


def make_root(root: Path, files: dict[str, list[Node]], toml: str = "", base: list[dict] | None = None) -> Path:
    """A data root with the given trajectory files (in order) and manifest m.toml."""
    root.mkdir(parents=True, exist_ok=True)
    for name, nodes in files.items():
        write_trajectory(root / f"{name}.parquet", columns(nodes))
    names = ", ".join(f'"{n}.parquet"' for n in files)
    text = f'name = "t"\n[sources]\ntrajectories = [{names}]\n'
    if base is not None:
        (root / "base.json").write_text(json.dumps(base), encoding="utf-8")
        text += '[sources.base_pairs]\npath = "base.json"\n'
    (root / "m.toml").write_text(text + toml, encoding="utf-8")
    return root / "m.toml"


def con_for(tmp_path: Path, files=None, toml: str = "", base=None):
    manifest = load_manifest(make_root(tmp_path / "root", files or {"a": A_NODES, "b": B_NODES}, toml, base))
    return connect(manifest), manifest


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


@pytest.fixture
def tree(tmp_path):
    return con_for(tmp_path)[0]


# ----------------------------------------------------------------------------- every view


def test_every_view_binds_and_each_defined_file_defers_its_binding(tree):
    """The views are created ``WITH (DEFER_BINDING)`` (bound when read: a connection
    defines them in a tenth of the time), so a view that cannot bind would only fail when
    read. Here every one of them is bound."""
    views = [r[0] for r in tree.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    assert len(views) > 40
    for view in views:
        tree.execute(f"DESCRIBE {view}").fetchall()
    for f in sql_files():
        text = f.read_text(encoding="utf-8")
        if not f.name.startswith("00_"):
            assert text.count("CREATE OR REPLACE VIEW") == text.count("WITH (DEFER_BINDING) AS"), f.name


def test_a_view_that_cannot_bind_fails_when_read(tree):
    tree.execute("CREATE OR REPLACE VIEW broken WITH (DEFER_BINDING) AS SELECT no_such_column FROM trajectories")
    with pytest.raises(duckdb.BinderException, match="no_such_column"):
        tree.execute("DESCRIBE broken")


# ----------------------------------------------------------------------------- 00 trajectories


def test_trajectories_union_in_manifest_order_with_provenance(tree):
    got = rows(tree, "SELECT source, file_order, file_row, theorem_name, state_id, state_hash FROM trajectories "
                     "ORDER BY file_order, file_row")
    expected = [("a", 0, i, n[0], n[1], state_hash(n[3])) for i, n in enumerate(A_NODES)] + \
               [("b", 1, i, n[0], n[1], state_hash(n[3])) for i, n in enumerate(B_NODES)]
    assert got == expected


def test_trajectories_ignore_extra_input_columns(tmp_path):
    root = tmp_path / "root"
    make_root(root, {"a": A_NODES})
    cols = columns(A_NODES)
    cols["note"] = ["x"] * len(A_NODES)
    pq.write_table(pa.table(cols), root / "a.parquet")
    con = connect(load_manifest(root / "m.toml"))
    assert "note" not in [d[0] for d in con.execute("SELECT * FROM trajectories LIMIT 0").description]


# ----------------------------------------------------------------------------- 05 theorem_split


def test_theorem_split_is_identity_split_bucket(tmp_path):
    con, m = con_for(tmp_path, toml="[split]\nval_fraction = 0.5\nseed = 7\n")
    got = {t: (b, s) for t, b, s in rows(con, "SELECT theorem_name, bucket, split FROM theorem_split")}
    assert set(got) == {"T1", "T2", "T3"}
    for theorem, (bucket, split) in got.items():
        assert bucket == pytest.approx(split_bucket(7, theorem), abs=1e-12)
        assert split == ("val" if split_bucket(7, theorem) < 0.5 else "train")


# ----------------------------------------------------------------------------- 10-22 SFT


def test_sft_candidates_pair_the_parent_state_with_the_tactic(tree):
    got = rows(tree, "SELECT source, theorem_name, state_id, parent_state, own_state, tactic FROM sft_candidates "
                     "ORDER BY source, theorem_name, state_id")
    assert got == [
        ("a", "T1", 0, "", "⊢ A", ""),            # a root has no parent
        ("a", "T1", 1, "⊢ A", "⊢ B", "t1"),
        ("a", "T1", 3, "⊢ B", "", "done"),        # completed node: own state is empty
        ("a", "T1", 6, "⊢ B", "⊢ S", "sorry"),    # stripped
        ("a", "T2", 0, "", "⊢ A", ""),
        ("a", "T2", 1, "⊢ A", "⊢ B", "t1"),
        ("b", "T1", 0, "", "⊢ A", ""),
        ("b", "T1", 1, "⊢ A", "⊢ C", "t1"),       # parent looked up in b, not a
    ]


def test_sft_file_stats_parent_pairing(tree):
    got = rows(tree, "SELECT source, total, positive, usable, empty, sorry, dup FROM sft_file_stats")
    # a: T1 root and T2 root empty; T1/6 sorry; T2's (⊢ A, t1) duplicates T1's in the same file
    # b: root empty; (⊢ A, t1) already taken in a
    assert got == [("a", 9, 6, 2, 2, 1, 1), ("b", 6, 2, 0, 1, 0, 1)]


def test_sft_file_stats_burnqed_compat_pairing(tmp_path):
    con, _ = con_for(tmp_path, toml='[filters]\npairing = "burnqed_compat"\n')
    got = rows(con, "SELECT source, total, positive, usable, empty, sorry, dup FROM sft_file_stats")
    # a: roots (empty tactic) x2 and the completed node (empty state) are empty
    assert got == [("a", 9, 6, 1, 3, 1, 1), ("b", 6, 2, 1, 1, 0, 0)]


def test_within_file_duplicate_keeps_the_least_theorem(tree):
    got = rows(tree, "SELECT theorem_name, source, state_pp, tactic, depth FROM trajectory_pairs ORDER BY ALL")
    assert got == [("T1", "a", "⊢ A", "t1", 0), ("T1", "a", "⊢ B", "done", 1)]


def test_pairing_agreement_counts_pairs_only_one_pairing_has(tree):
    got = rows(tree, "SELECT usable_parent, usable_compat, only_parent, only_compat FROM pairing_agreement")
    # parent: (⊢ A, t1), (⊢ B, done); compat: (⊢ B, t1), (⊢ C, t1)
    assert got == [(2, 2, 2, 2)]


def test_missing_parent_counts_as_empty(tmp_path):
    nodes = [("T1", 0, None, "⊢ A", "", "positive", 0), ("T1", 1, 99, "⊢ B", "t", "positive", 1)]
    con, _ = con_for(tmp_path, files={"a": nodes})
    assert rows(con, "SELECT usable, empty FROM sft_file_stats") == [(0, 2)]


def test_own_state_sources_pair_their_own_state(tmp_path):
    con, _ = con_for(tmp_path, toml='[filters]\nown_state_sources = ["b"]\n')
    got = rows(con, "SELECT source, parent_state, tactic FROM sft_candidates WHERE source = 'b' ORDER BY state_id")
    assert got == [("b", "⊢ A", ""), ("b", "⊢ C", "t1")]


def test_filters_can_be_switched_off(tmp_path):
    con, _ = con_for(tmp_path, toml="[filters]\ndrop_sorry = false\ndedup = false\n")
    got = rows(con, "SELECT source, usable, empty, sorry, dup FROM sft_file_stats")
    assert got == [("a", 4, 2, 0, 0), ("b", 1, 1, 0, 0)]


def test_strip_matches_python_str_strip(tmp_path):
    odd = ["\u3000⊢ A\u2028", "\t\n⊢ B \x85", "⊢ C\u200b", " \x1c⊢ D\xa0", "⊢ E"]
    nodes = [("T1", 0, None, "root", "", "positive", 0)]
    nodes += [("T1", i + 1, 0, s, s + " t", "positive", 1) for i, s in enumerate(odd)]
    con, _ = con_for(tmp_path, files={"a": nodes}, toml='[filters]\npairing = "burnqed_compat"\n')
    got = rows(con, "SELECT own_state, tactic FROM sft_candidates WHERE state_id > 0 ORDER BY state_id")
    assert got == [(s.strip(), (s + " t").strip()) for s in odd]


def test_sft_pairs_columns_are_the_contract_plus_split(tree):
    cols = [d[0] for d in tree.execute("SELECT * FROM sft_pairs LIMIT 0").description]
    assert cols[: len(SFT_PAIRS)] == SFT_PAIRS.names and "split" in cols
    out = [d[0] for d in tree.execute("SELECT * FROM out_sft_train LIMIT 0").description]
    assert out == SFT_PAIRS.names


# ----------------------------------------------------------------------------- 30 base pairs


def _leandojo(name: str, steps: list[tuple[str, str]]) -> dict:
    return {"full_name": name, "file_path": "Mathlib/X.lean", "start": [1, 1], "end": [2, 1], "url": "u",
            "commit": "c", "traced_tactics": [{"tactic": t, "annotated_tactic": [t, []], "state_before": s,
                                               "state_after": "no goals"} for s, t in steps]}


BASE = [_leandojo(f"Base.t{i}", [(f"⊢ b{i}", "simp"), (f"⊢ b{i}'", "ring")]) for i in range(40)] + [
    _leandojo("Base.dup", [("⊢ b0", "simp")]),     # duplicate of Base.t0's first pair
    _leandojo("Base.bad", [(" ", "simp"), ("⊢ q", "sorry")]),
]


def test_base_pairs_filter_split_by_theorem_and_subsample(tmp_path):
    con, m = con_for(tmp_path, base=BASE, toml="[split]\nval_fraction = 0.3\n")
    status = dict(rows(con, "SELECT status, count(*) FROM base_pairs_classified GROUP BY ALL"))
    assert status == {"usable": 80, "dup": 1, "empty": 1, "sorry": 1}
    got = rows(con, "SELECT theorem_name, split FROM base_pairs")
    assert len(got) == 80
    for theorem, split in got:
        assert split == ("val" if split_bucket(42, theorem) < 0.3 else "train")


def test_base_subsample_is_seeded_and_order_independent(tmp_path):
    toml = "[split]\nval_fraction = 0.3\n"
    con1, _ = con_for(tmp_path / "1", base=BASE, toml=toml)
    n_val = rows(con1, "SELECT count(*) FROM base_pairs WHERE split = 'val'")[0][0]

    def sample(d: Path, base: list[dict], seed: int) -> list[tuple]:
        m = make_root(d, {"a": A_NODES}, toml, base)
        text = m.read_text().replace('path = "base.json"\n', f'path = "base.json"\nsubsample = 10\nseed = {seed}\n')
        m.write_text(text)
        c = connect(load_manifest(m))
        return rows(c, "SELECT theorem_name, state_pp, tactic, split FROM base_pairs ORDER BY ALL")

    a = sample(tmp_path / "2", BASE, 1)
    b = sample(tmp_path / "3", list(reversed(BASE)), 1)
    c = sample(tmp_path / "4", BASE, 2)
    assert a == b
    assert a != c
    assert sum(s == "train" for *_, s in a) == 10
    assert sum(s == "val" for *_, s in a) == n_val  # val pairs are never subsampled


def test_base_pairs_join_sft_pairs_in_their_theorem_split(tmp_path):
    con, _ = con_for(tmp_path, base=BASE)
    got = rows(con, "SELECT count(*) FROM sft_pairs WHERE source = 'base'")
    assert got == [(80,)]
    leaks = rows(con, "SELECT theorem_name FROM sft_pairs GROUP BY ALL HAVING count(DISTINCT split) > 1")
    assert leaks == []


# ----------------------------------------------------------------------------- 40-43 contrastive


def test_negatives_are_tiered_by_file_scoped_siblings(tree):
    got = rows(tree, "SELECT source, theorem_name, state_id, tier, sibling_in_file, sibling_in_theorem, "
                     "false_negative FROM contrastive_negative_records ORDER BY source, theorem_name, state_id")
    assert got == [
        ("a", "T1", 2, "hard", True, True, False),
        ("a", "T1", 4, "medium", False, False, False),
        ("b", "T1", 2, "medium", False, True, False),   # parent id 1 is a positive's parent only in a
        ("b", "T1", 3, "hard", True, True, True),       # ⊢ B is positive in a: a false negative
        ("b", "T3", 0, "medium", False, False, False),
        ("b", "T3", 1, "medium", False, False, False),
    ]
    drawn = rows(tree, "SELECT source, state_id FROM contrastive_negatives WHERE theorem_name = 'T1' ORDER BY ALL")
    assert drawn == [("a", 2), ("a", 4), ("b", 2)]  # false_negatives = "exclude" by default


def test_theorem_sibling_scope_is_burnqeds_rule(tmp_path):
    con, _ = con_for(tmp_path, toml='[contrastive]\nsibling_scope = "theorem"\nfalse_negatives = "keep"\n')
    assert rows(con, "SELECT count(*) FILTER (WHERE tier = 'hard') FROM contrastive_negatives") == [(3,)]


def test_positive_states_non_empty_drops_completed_nodes(tree, tmp_path):
    assert rows(tree, "SELECT count(*) FROM contrastive_positives") == [(7,)]
    con, _ = con_for(tmp_path, toml='[contrastive]\npositive_states = "all"\n')
    assert rows(con, "SELECT count(*) FROM contrastive_positives") == [(8,)]


@pytest.mark.parametrize("policy, negatives, siblings", [
    ("keep", (2, 4, 6), (2, 3)),
    ("exclude", (1, 4, 5), (1, 2)),  # b's ⊢ B, a sibling by both rules, is positive in a
])
def test_contrastive_stats_table(tmp_path, policy, negatives, siblings):
    # val_fraction near 1 puts every theorem in val, so one split holds all counts
    con, _ = con_for(tmp_path, toml=f'[split]\nval_fraction = 0.999999\n[contrastive]\nfalse_negatives = "{policy}"\n')
    stats = con.execute("SELECT * FROM contrastive_stats")
    names = [d[0] for d in stats.description]
    by_split = {r[0]: dict(zip(names, r)) for r in stats.fetchall()}
    assert by_split["train"]["records"] == 0
    v = by_split["val"]
    assert (v["records"], v["unknown_records"], v["eligible_theorems"], v["sampled_theorems"]) == (14, 1, 2, 2)
    assert (v["eligible_positive_records"], v["sibling_negatives"], v["non_sibling_negatives"],
            v["total_negatives"]) == (7, *negatives)
    assert (v["siblings_file_rule"], v["siblings_theorem_rule"]) == siblings


# ----------------------------------------------------------------------------- 45 samples


def _samples(con, split: str | None = None) -> list[dict]:
    where = f"WHERE split = '{split}'" if split else ""
    rel = con.execute(f"SELECT * FROM contrastive_samples {where} ORDER BY split, sample_id")
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r)) for r in rel.fetchall()]


def test_samples_fill_k_with_tier_overflow(tmp_path):
    con, _ = con_for(tmp_path, toml="[split]\nval_fraction = 0.999999\n[contrastive]\nrounds = 3\n")
    samples = _samples(con)
    assert len(samples) == 3 * 2  # rounds x theorems with a positive (T1, T2)
    hashes = {s: state_hash(s) for s in ("⊢ N1", "⊢ N2", "⊢ N3", "⊢ B", "⊢ Z", "⊢ Y")}
    for s in samples:
        assert len(s["neg_state_hashes"]) == len(s["neg_tiers"]) == 7
        if s["theorem_name"] == "T1":
            # hard pool {N1 (a), B (b)}: 2; medium pool {N2, N3}: 3; easy: 2, preferably T3's
            assert s["neg_tiers"] == ["hard"] * 2 + ["medium"] * 3 + ["easy"] * 2
            assert set(s["neg_state_hashes"][:2]) <= {hashes["⊢ N1"], hashes["⊢ B"]}
            assert set(s["neg_state_hashes"][2:5]) <= {hashes["⊢ N2"], hashes["⊢ N3"]}
        else:
            # T2 has no negative: its whole quota passes to easy, all from another theorem
            assert s["neg_tiers"] == ["easy"] * 7
        assert s["pos_state_hash"] != state_hash("")
    assert [s["sample_id"] for s in samples] == list(range(6))
    assert [(s["round"], s["theorem_name"]) for s in samples] == [(r, t) for r in (1, 2, 3) for t in ("T1", "T2")]


def test_samples_depend_on_the_seed_only(tmp_path):
    toml = "[split]\nval_fraction = 0.999999\n[contrastive]\nrounds = 8\nseed = {}\n"
    a = _samples(con_for(tmp_path / "a", toml=toml.format(1))[0])
    b = _samples(con_for(tmp_path / "b", files={"b": list(reversed(B_NODES)), "a": list(reversed(A_NODES))},
                         toml=toml.format(1))[0])
    c = _samples(con_for(tmp_path / "c", toml=toml.format(2))[0])
    strip = lambda ss: [(s["round"], s["theorem_name"], s["pos_state_hash"], s["neg_state_hashes"]) for s in ss]  # noqa: E731
    # file order decides only the source named for the positive, never which states are drawn
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_a_split_without_negatives_has_no_samples(tmp_path):
    nodes = [("T1", 0, None, "⊢ A", "", "positive", 0), ("T1", 1, 0, "⊢ B", "t", "positive", 1)]
    con, _ = con_for(tmp_path, files={"a": nodes})
    assert _samples(con) == []


def test_contrastive_output_columns_are_the_contract(tree):
    for split in ("train", "val"):
        out = [d[0] for d in tree.execute(f"SELECT * FROM out_contrastive_{split} LIMIT 0").description]
        assert out == CONTRASTIVE.names


# ----------------------------------------------------------------------------- 50 states


def test_states_are_unique_positive_and_negative_states(tree):
    got = rows(tree, "SELECT state_hash, state_pp, n_records, n_positive, n_negative FROM out_states")
    by_state = {s: (n, p, q) for _, s, n, p, q in got}
    assert by_state["⊢ A"] == (3, 3, 0)
    assert by_state["⊢ B"] == (3, 2, 1)  # both labels
    assert by_state[""] == (1, 1, 0)     # the completed node's empty state is a state too
    assert "⊢ U" not in by_state         # unknown records are not states to embed
    assert len(got) == 10
    assert [r[0] for r in got] == sorted(state_hash(s) for s in by_state)
    assert all(h == state_hash(s) for h, s, *_ in got)
    assert [d[0] for d in tree.execute("SELECT * FROM out_states LIMIT 0").description] == STATES.names


# ----------------------------------------------------------------------------- every file


def test_every_sql_file_starts_with_its_documentation():
    assert set(sql_files()) < set(all_sql_files())
    for f in all_sql_files():
        assert f.read_text(encoding="utf-8").startswith("--"), f"{f.name} has no header comment"


def test_the_state_hash_is_computed_by_its_macro_only():
    """``unhex(md5(...))`` is stated once, as ``state_hash`` in ``sql/macros.sql``; the
    views and the explorer's queries call it, so no copy can drift from identity.state_hash."""
    from tests.conftest import REPO

    files = all_sql_files() + sorted((REPO / "prover_data" / "explore" / "sql").glob("*.sql"))
    inline = [f.name for f in files if f.name != "macros.sql" and "unhex(md5(" in f.read_text(encoding="utf-8")]
    assert not inline, f"inline state hashes (call state_hash instead): {inline}"
    con = duckdb.connect()
    define_macros(con)
    assert con.execute("SELECT state_hash('⊢ x = x')").fetchone()[0] == state_hash("⊢ x = x")


def test_the_views_and_validation_number_searches_with_one_macro():
    """``search_numbers`` (``sql/macros.sql``) is the one numbering: the records and the
    rows validation checks are numbered by it, neither by a window of its own."""
    from prover_data.sql_files import sql_dir

    for name in ("00_trajectories.sql", "checks/trajectory.sql"):
        text = (sql_dir() / name).read_text(encoding="utf-8")
        assert "search_numbers(" in text and " OVER (" not in text, name
    con = duckdb.connect()
    define_macros(con)
    con.execute("CREATE TABLE r AS SELECT * FROM (VALUES (0, 'a', 0, NULL, 0), (0, 'a', 1, 0, 1), (0, 'b', 2, NULL, 0), "
                "(0, 'a', 3, NULL, 0), (0, 'a', 4, 0, 1), (0, 'b', 5, 0, 1), (0, 'c', 6, 0, 1), (0, 'c', 7, NULL, 0), "
                "(0, 'c', 8, NULL, 0), (1, 'c', 0, NULL, 0)) "
                "AS v(file_order, theorem_name, file_row, parent_state_id, depth_from_root)")
    got = con.execute("SELECT file_order, file_row, search FROM search_numbers(r) ORDER BY ALL").fetchall()
    assert got == [(0, 0, 0), (0, 1, 0), (0, 2, 0), (0, 3, 1), (0, 4, 1), (0, 5, 0),  # a: two searches; b: one
                   (0, 6, -1), (0, 7, 0), (0, 8, 1), (1, 0, 0)]  # c: a row above its first root; per file
