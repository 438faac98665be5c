"""Eval-set sampling, hypothesis counts and the contamination audit."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prover_data.build.files import Build
from prover_data.errors import InputError
from prover_data.evaluation.hypotheses import hypothesis_count
from prover_data.evaluation.sets import (
    BASE_PAIRS, TRAJECTORIES, TWIN, VALUE_TARGETS, BuildEvalSets, audit, audit_file, audit_or_raise, build_eval_set,
    eval_set_json, report_lines, training_theorems,
)
from prover_data.identity import normalize_statement, statement_hash
from prover_data.manifest import Eval, EvalSet, Manifest, Sources, load_manifest
from tests.conftest import BURNQED
from tests.eval_fixtures import search_rows, write_leandojo, write_list, write_manifest, write_trajectory


def _real(list_name: str) -> dict[str, str]:
    doc = json.loads((BURNQED / f"{list_name}.json").read_text(encoding="utf-8"))
    return {t["name"]: t["statement"] for t in doc["theorems"]}


MINIF2F = _real("minif2f_test")
GOEDEL = _real("goedel_depth3")


def _respace(statement: str, seed: int) -> str:
    """The same statement with different whitespace (tabs, newlines, NBSP, doubled spaces)."""
    r = random.Random(seed)
    return "\n " + "".join(r.choice([" \t", "\n    ", "  ", "\u00a0"]) if c == " " else c for c in statement) + " \n"


def _table(pairs) -> pa.Table:
    pairs = list(pairs)
    return pa.table({"name": pa.array([p[0] for p in pairs], pa.string()),
                     "statement": pa.array([p[1] for p in pairs], pa.string())})


def _manifest(spec: EvalSet, held_out=("train_eval",)) -> Manifest:
    """A manifest whose lists are passed in memory (no file is read)."""
    return Manifest(name="t", sources=Sources(trajectories=("t.parquet",), theorem_index="index.json",
                                              held_out={n: f"{n}.json" for n in held_out}),
                    eval=Eval(sets=(spec,)), root=Path("/nonexistent"), path=Path("/nonexistent/t.toml"))


# --------------------------------------------------------------------------- hypothesis count


@pytest.mark.parametrize("name, expected", [
    ("aime_1983_p1", 6),  # (x y z w : ℕ) (ht …) (hw …) (h0 …) (h1 …) (h2 …)
    ("aime_1983_p2", 5),  # (x p : ℝ) (f : ℝ → ℝ) (h₀ …) (h₁ …) (h₂ …)
    ("aime_1983_p3", 3),  # (f …) (h₀ : ∀ x, f x = (… (…))) (h₁ : Fintype (f⁻¹' {0})): nesting, inner commas
    ("amc12a_2002_p6", 2),  # (n : ℕ) (h₀ : 0 < n); the ∃ after the comma adds nothing
    ("amc12a_2013_p4", 0),  # not a ∀ statement
])
def test_hypothesis_count_on_real_minif2f(name, expected):
    assert hypothesis_count(MINIF2F[name]) == expected


@pytest.mark.parametrize("statement, expected", [
    ("∀ {a b c : ℝ} (ha : 0 < a) (hb : 0 < b) (hc : 0 < c), 3 / 2 ≤ a / (b + c) + b / (a + c) + c / (a + b)", 4),
    ("∀ a b c : ℝ, a ∈ Set.Icc 0 1 ∧ b ∈ Set.Icc 0 1 → a + b ≥ 2 * (a * b)", 1),
    ("∀ {ω : ℝ} (n : ℕ) (x : ℕ → ℝ) (h₁ : ω > 0) (hx : ∀ n, x (n + 1) = x n), ∀ n ≥ 1, x n = x n", 7),
    ("¬∃ x : ℝ, x > 0 ∧ x ^ 6 + x ^ 4 + x ^ 2 + x + 3 = 0", 0),
    ("∀ x : Fin (n + 1), x ≤ n", 1),
    ("∀ x (h : 0 < x), x ≠ 0", 2),
    ("∀ {α : Type u_1} [inst : LinearOrderedField α] (x y : α) (hx : 0 < x), x / y ≥ 0", 4),
    ("∀ (x : ℝ)", 0),  # unterminated telescope: unreadable, counted as nothing
])
def test_hypothesis_count_shapes(statement, expected):
    assert hypothesis_count(statement) == expected


def test_hypothesis_count_ignores_whitespace_on_every_real_list():
    for lst in ("minif2f_test", "minif2f_valid", "putnam"):
        for k, s in enumerate(_real(lst).values()):
            assert hypothesis_count(_respace(s, k)) == hypothesis_count(s), s


# --------------------------------------------------------------------------- sampling


def _world(n_pool: int, seed: int):
    """A pool of real Goedel statements, training and held-out subsets, and twins of both."""
    r = random.Random(seed)
    items = list(GOEDEL.items())[:n_pool]
    training = {n for n, _ in items[: n_pool // 3]}
    held = items[n_pool // 3: n_pool // 3 + n_pool // 10]
    twins = [(f"{n}_copy", _respace(s, k)) for k, (n, s) in enumerate(items[: n_pool // 3: 7] + held[::3])]
    pool = items + twins
    r.shuffle(pool)
    return pool, training, held


def test_sample_excludes_training_held_out_and_whitespace_twins():
    pool, training, held = _world(300, 0)
    spec = EvalSet(name="e", size=40, seed=42, exclude_held_out=("train_eval",))
    result = build_eval_set(spec, _manifest(spec), {TRAJECTORIES: training},
                            index=_table(pool), held_out={"train_eval": _table(held)})
    names = result.theorems.column("name").to_pylist()
    assert len(names) == 40 == len(set(names))
    statements = dict(pool)
    banned = {statement_hash(statements[n]) for n in training} | {statement_hash(s) for _, s in held}
    held_names = {n for n, _ in held}
    for n, s in zip(names, result.theorems.column("statement").to_pylist()):
        assert n not in training and n not in held_names
        assert statement_hash(s) not in banned
    ex = result.stats["excluded"]
    assert ex[TRAJECTORIES] == len(training)
    assert ex["held_out:train_eval"] == len(held)
    twins = {n for n, s in pool if n not in training and n not in held_names and statement_hash(s) in banned}
    assert {n for n, _ in pool if n.endswith("_copy")} <= twins  # the planted ones (Goedel has a real one too)
    assert ex[TWIN] == len(twins)
    assert result.stats["clean_pool"] == len(pool) - sum(ex.values())


def test_sample_is_independent_of_input_order_and_extends_with_size():
    pool, training, held = _world(200, 1)
    spec = EvalSet(name="e", size=30, seed=7, exclude_held_out=("train_eval",))
    first = build_eval_set(spec, _manifest(spec), set(training), index=_table(pool),
                           held_out={"train_eval": _table(held)})
    random.Random(3).shuffle(pool)
    second = build_eval_set(spec, _manifest(spec), pa.array(sorted(training), pa.string()), index=_table(pool),
                            held_out={"train_eval": _table(reversed(held))})
    assert eval_set_json(first.theorems) == eval_set_json(second.theorems)
    bigger = EvalSet(name="e", size=50, seed=7, exclude_held_out=("train_eval",))
    third = build_eval_set(bigger, _manifest(bigger), training, index=_table(pool),
                           held_out={"train_eval": _table(held)})
    assert third.theorems.column("name").to_pylist()[:30] == first.theorems.column("name").to_pylist()
    other_seed = EvalSet(name="e", size=30, seed=8, exclude_held_out=("train_eval",))
    fourth = build_eval_set(other_seed, _manifest(other_seed), training, index=_table(pool),
                            held_out={"train_eval": _table(held)})
    assert fourth.theorems.column("name").to_pylist() != first.theorems.column("name").to_pylist()


def test_clean_theorems_sharing_a_statement_are_sampled_once():
    statements = list(GOEDEL.values())[:20]
    pool = [(f"a{i}", s) for i, s in enumerate(statements)]
    pool += [(f"b{i}", _respace(s, i)) for i, s in enumerate(statements)]
    spec = EvalSet(name="e", size=20, seed=1)
    result = build_eval_set(spec, _manifest(spec, held_out=()), set(), index=_table(pool))
    hashes = [statement_hash(s) for s in result.theorems.column("statement").to_pylist()]
    assert len(set(hashes)) == 20
    assert result.stats["clean_pool"] == 40 and result.stats["clean_distinct_statements"] == 20
    too_many = EvalSet(name="e", size=21, seed=1)
    with pytest.raises(InputError) as e:
        build_eval_set(too_many, _manifest(too_many, held_out=()), set(), index=_table(pool))
    assert "eval.sets[0].size" in str(e.value) and "only 20 distinct statements" in str(e.value)


_WORDS = st.sampled_from(["x", "y", "+", "*", "=", "≤", "(h", ":", "0", "1)", "∀", ",", "ℝ"])
_STATEMENT = st.lists(_WORDS, min_size=1, max_size=6).map(" ".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_no_sampled_theorem_meets_training_or_held_out(data):
    n = data.draw(st.integers(5, 40), label="pool size")
    statements = data.draw(st.lists(_STATEMENT, min_size=n, max_size=n), label="statements")
    pool = [(f"t{i}", s) for i, s in enumerate(statements)]
    flags = data.draw(st.lists(st.sampled_from(["train", "held", "clean"]), min_size=n, max_size=n))
    training = {p[0] for p, f in zip(pool, flags) if f == "train"}
    held = [p for p, f in zip(pool, flags) if f == "held"]
    # whitespace twins of training and held-out theorems under new names, and held-out
    # theorems that are not in the pool at all
    twins = [(f"{name}_twin", _respace(s, k)) for k, (name, s) in enumerate(pool)
             if name in training or (name, s) in held if data.draw(st.booleans())]
    outside = [(f"ext{i}", s) for i, s in enumerate(data.draw(st.lists(_STATEMENT, max_size=3)))]
    index = pool + twins
    order = data.draw(st.permutations(range(len(index))), label="index order")
    index = [index[i] for i in order]
    size = data.draw(st.integers(1, 10))
    spec = EvalSet(name="e", size=size, seed=data.draw(st.integers(0, 3)), exclude_held_out=("train_eval",))
    statement_of = dict(index)
    banned_names = training | {p[0] for p in held + outside}
    banned = {statement_hash(statement_of[t]) for t in training} | {statement_hash(s) for _, s in held + outside}
    try:
        result = build_eval_set(spec, _manifest(spec), {TRAJECTORIES: training}, index=_table(index),
                                held_out={"train_eval": _table(held + outside)})
    except InputError as e:
        clean = {statement_hash(s) for name, s in index if name not in banned_names and statement_hash(s) not in banned}
        assert len(clean) < size, str(e)
        return
    names = result.theorems.column("name").to_pylist()
    hashes = [statement_hash(s) for s in result.theorems.column("statement").to_pylist()]
    assert len(names) == size
    assert not set(names) & banned_names
    assert not set(hashes) & banned
    assert len(set(hashes)) == size


def test_report_lines_match_the_report():
    pool, training, held = _world(300, 2)
    spec = EvalSet(name="eval_clean_100", size=20, seed=42, exclude_held_out=("train_eval",))
    result = build_eval_set(spec, _manifest(spec), {TRAJECTORIES: training, BASE_PAIRS: set()},
                            index=_table(pool), held_out={"train_eval": _table(held)})
    lines = report_lines(result)
    ex = result.stats["excluded"]
    assert lines[0] == "20 theorems sampled from `index.json` (seed 42), **disjoint from all training data**:"
    assert f"- Excluded {ex[TRAJECTORIES]} theorems appearing in any trajectory parquet" in lines
    assert f"- Excluded {ex['held_out:train_eval']} train_eval theorems" in lines
    assert not any("base tactic pairs" in line for line in lines)  # zero, and not a report line
    assert any(line.startswith(f"- Excluded {ex[TWIN]} theorems whose statement equals") for line in lines)
    assert any(line.startswith(f"- Clean pool: {result.stats['clean_pool']} theorems") for line in lines)
    median = result.stats["median_hypotheses"]
    assert lines[-1].startswith(f"- Median hypothesis count: {median:.0f}" if median.is_integer() else
                                f"- Median hypothesis count: {median:.1f}")
    assert "(train_eval: " in lines[-1]


# --------------------------------------------------------------------------- audit


def test_audit_catches_name_and_whitespace_twin_on_real_minif2f():
    eval_list = _table(list(MINIF2F.items()))
    names = list(MINIF2F)
    twin_of = names[5]
    training = {TRAJECTORIES: {names[0], "renamed_copy"}, BASE_PAIRS: {names[0], "Nat.add_comm"}}
    statements = {"renamed_copy": _respace(MINIF2F[twin_of], 0), "Nat.add_comm": "∀ (a b : ℕ), a + b = b + a",
                  "unrelated": MINIF2F[names[9]]}  # a statement of a non-training name changes nothing
    overlaps = audit(eval_list, training, statements, source="minif2f_test.json")
    assert [(o.row, o.name, o.by, o.training_name) for o in overlaps] == [
        (0, names[0], "name", names[0]), (5, twin_of, "statement", "renamed_copy")]
    assert overlaps[0].origins == (TRAJECTORIES, BASE_PAIRS)
    with pytest.raises(InputError) as e:
        audit_or_raise(eval_list, training, _table(statements.items()), source="minif2f_test.json")
    text = str(e.value)
    assert f"minif2f_test.json: row 0, column 'name': theorem '{names[0]}' is training data" in text
    assert f"theorem '{twin_of}' has the same statement, up to whitespace, as training theorem 'renamed_copy'" in text
    audit_or_raise(eval_list, {"x": {"Nat.add_comm"}}, statements, source="minif2f_test.json")  # clean: no raise


def test_normalization_is_what_the_audit_uses():
    s = MINIF2F[next(iter(MINIF2F))]
    assert normalize_statement(_respace(s, 1)) == normalize_statement(s)
    assert statement_hash(s.replace("=", "≠", 1)) != statement_hash(s)


# --------------------------------------------------------------------------- over a manifest


@pytest.fixture
def tiny(tmp_path):
    """A data root: trajectories meet minif2f by name and by a re-spaced statement."""
    names = list(MINIF2F)
    filler = list(GOEDEL.items())[:60]
    rows = []
    for t in [names[0], "renamed_copy", filler[0][0], filler[1][0]]:
        rows += search_rows(t, 1, 3)
    write_trajectory(tmp_path / "trajectories" / "iter_0.parquet", rows)
    index = [(names[0], MINIF2F[names[0]]), ("renamed_copy", _respace(MINIF2F[names[1]], 0))] + filler
    index.append(("filler_twin", _respace(filler[1][1], 3)))  # twin of a trajectory theorem
    write_list(tmp_path / "theorem_index.json", index)
    write_list(tmp_path / "held_out" / "train_eval.json", filler[2:7])
    write_leandojo(tmp_path / "leandojo.json", [filler[7][0], filler[8][0]])
    write_manifest(tmp_path, held_out={"train_eval": "held_out/train_eval.json",
                                       "minif2f_test": str(BURNQED / "minif2f_test.json")},
                   eval_sets='[[eval.sets]]\nname = "eval_small"\nsize = 10\nseed = 42\n'
                             'exclude_held_out = ["train_eval"]',
                   audit=("minif2f_test",), base_pairs=True)
    return SimpleNamespace(root=tmp_path, manifest=load_manifest(tmp_path / "evaltest.toml"), names=names,
                           filler=filler)


def test_audit_file_reports_overlaps_with_where_they_were_found(tiny):
    report = audit_file(BURNQED / "minif2f_test.json", tiny.manifest)
    assert report.training == {TRAJECTORIES: 4, BASE_PAIRS: 2, VALUE_TARGETS: 4}
    assert [(o.name, o.by, o.training_name) for o in report.overlaps] == [
        (tiny.names[0], "name", tiny.names[0]), (tiny.names[1], "statement", "renamed_copy")]
    clean = audit_file(BURNQED / "putnam.json", tiny.manifest)
    assert clean.overlaps == [] and clean.to_dict()["clean"]


def _build_sets(manifest) -> BuildEvalSets:
    from prover_data.inputs.theorem_lists import read_theorem_list
    from prover_data.views import connect

    index = read_theorem_list(manifest.resolve(manifest.sources.theorem_index))
    lists = {n: read_theorem_list(p) for n, p in manifest.held_out_paths().items()}
    return BuildEvalSets(manifest, training_theorems(connect(manifest)), index, lists).sample()


def test_build_eval_sets_writes_sets_and_fails_on_contaminated_audit_list(tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError) as e:
        _build_sets(tiny.manifest).finish(Build(tiny.manifest, tmp_path).staged(out))
    assert "minif2f_test.json: row 0, column 'name'" in str(e.value)
    assert "row 1, column 'statement'" in str(e.value)

    clean_manifest = load_manifest(write_manifest(
        tiny.root, held_out={"train_eval": "held_out/train_eval.json"},
        eval_sets='[[eval.sets]]\nname = "eval_small"\nsize = 10\nseed = 42\nexclude_held_out = ["train_eval"]',
        base_pairs=True))
    staged = Build(clean_manifest, tmp_path).staged(out)
    written = _build_sets(clean_manifest).finish(staged)
    assert staged.eval_set("eval_small") == out / "eval" / "eval_small.json"
    doc = json.loads((out / "eval" / "eval_small.json").read_text(encoding="utf-8"))
    chosen = {t["name"] for t in doc["theorems"]}
    assert len(chosen) == 10
    excluded = {tiny.names[0], "renamed_copy", "filler_twin"} | {n for n, _ in tiny.filler[:9]}
    assert not chosen & excluded
    (result,) = written.results
    assert result.name == "eval_small" and result.theorems.num_rows == 10 and result.stats["excluded"] == {
        TRAJECTORIES: 4, BASE_PAIRS: 2, VALUE_TARGETS: 0, "held_out:train_eval": 5, TWIN: 1}
    assert written.audited == tuple(clean_manifest.eval.audit)


def test_normalization_collapses_every_unicode_whitespace_character():
    import sys

    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    assert {"\u00a0", "\u2003", "\u3000", "\u2028", "\x1c"} <= set(spaces)
    for c in spaces:
        assert normalize_statement(f"{c}a{c}{c} :{c}b ={c}\tc{c}") == "a : b = c", repr(c)
    assert normalize_statement("a\u200bb") == "a\u200bb"  # a zero-width space is not whitespace
