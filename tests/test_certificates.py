"""Proof certificates: the grammar and its validator, derivation, split, packing, export."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover_data.certificates.corpus import dedup, derive, export, stratified_split, tactic_family
from prover_data.certificates.grammar import (Certificate, Goal, Step, decode, encode, parse_state, render_state,
                                              split_corpus, theorem_line, validate_certificate, validate_corpus)
from prover_data.certificates.packing import PAD, pack
from prover_data.errors import InputError
from prover_data.manifest import load_manifest
from prover_data.schema import TRAJECTORY
from tests.conftest import SAMPLE

GOOD = (
    "@T Nat.foo : ∀ (x y : ℕ), x + y = y + x\n"
    "@C x y : ℕ\n"
    "@G ⊢ x + y = y + x\n"
    "@P induction x with\n"
    "   | zero => simp\n"
    " \n"
    "   | succ n ih => omega\n"
    "@C h : 0 < 1\n"
    "@G case h.right ⊢ 0 ≤ 2\n"
    "@G ⊢ True\n"
    "@P all_goals\n"
    "   trivial\n"
    "@E\n"
)


# ----------------------------------------------------------------------------- grammar


def test_good_certificate_is_valid_and_decodes():
    assert validate_certificate(GOOD) == []
    cert = decode(GOOD)
    assert cert.theorem == "Nat.foo" and cert.statement == "∀ (x y : ℕ), x + y = y + x"
    assert cert.steps[0].tactic == "induction x with\n  | zero => simp\n\n  | succ n ih => omega"
    second = cert.steps[1]
    assert [g.case for g in second.goals] == ["h.right", None]
    assert second.goals[0].hypotheses == ("h : 0 < 1",) and second.goals[1].hypotheses == ()
    assert encode(cert) == GOOD


@pytest.mark.parametrize("text, line, fragment", [
    (GOOD.replace("@T Nat.foo : ∀ (x y : ℕ), x + y = y + x\n", ""), 1, "missing @T"),
    ("@T a\n@P simp\n@E\n", 2, "step without goal"),
    ("@T a\n@G ⊢ p\n@P simp\n@X q\n@E\n", 4, "unknown marker '@X'"),
    ("@T a\n@G ⊢ p\n@P induction x with\n| zero => simp\n@E\n", 4, "continuation line"),
    ("@T a\n@G ⊢ p\n@P simp\n\n@E\n", 4, "empty line"),
    ("@T a\n@G ⊢ p\n@P simp\n", 4, "truncated: no @E"),
    ("@T a\n@G ⊢ p\n@P simp\n@E", 4, "truncated: the last line has no newline"),
    ("@T a\n@G ⊢ p\n@E\n", 3, "step without tactic"),
    ("@T a\n@C h : p\n@P simp\n@E\n", 3, "hypotheses without a goal"),
    ("@T a\n@G p\n@P simp\n@E\n", 2, "a goal is"),
    ("@T a\n@C h p\n@G ⊢ p\n@P simp\n@E\n", 2, "a hypothesis is"),
    ("@T a b : p\n@G ⊢ p\n@P simp\n@E\n", 1, "name without spaces"),
    ("@T a\n@G ⊢ p\n@P simp\n@E\n@T b\n", 5, "text after the @E line"),
    ("@T a\n@G ⊢ p\n@Psimp\n@E\n", 3, "must be followed by a space"),
    ("@T a\n@E\n", 2, "without steps"),
    ("", 1, "empty certificate"),
    (" x\n@T a\n@G ⊢ p\n@P simp\n@E\n", 1, "outside an item"),
])
def test_validator_names_the_first_error_and_its_line(text, line, fragment):
    errors = validate_certificate(text)
    assert errors, text
    assert errors[0].line == line and fragment in errors[0].message, errors


def test_validator_rejects_bytes_that_are_not_utf8():
    errors = validate_certificate("@T a\n@G ⊢ p\n@P si".encode("utf-8") + b"\xffmp\n@E\n")
    assert errors and "not UTF-8" in errors[0].message and errors[0].line == 3


def test_later_steps_may_omit_their_state():
    text = "@T a\n@C h : p\n@G ⊢ q\n@P intro x\n@P simp\n@E\n"
    assert validate_certificate(text) == []
    assert decode(text).steps[1] == Step((), "simp")


def test_corpus_validation_counts_lines_across_certificates():
    corpus = GOOD + "@T b\n@G ⊢ p\n@P simp\n@E\n" + "@T c\n@G ⊢ p\n"
    assert len(split_corpus(corpus)) == 3
    errors = validate_corpus(corpus)
    assert [(e.line, e.message.split(":")[0]) for e in errors] == [(20, "truncated")]
    assert theorem_line(GOOD) == "@T Nat.foo : ∀ (x y : ℕ), x + y = y + x\n"


LEAN_LINE = st.text(alphabet=st.sampled_from(list("ab xyℕ→∀⊢@:()\t")), min_size=1, max_size=12)


@st.composite
def goals(draw):
    out = []
    for _ in range(draw(st.integers(1, 3))):
        hyps = tuple(f"h{i} : {draw(LEAN_LINE)}" + "".join(f"\n  {draw(LEAN_LINE)}" for _ in range(draw(st.integers(0, 1))))
                     for i in range(draw(st.integers(0, 3))))
        target = "⊢ " + draw(LEAN_LINE) + "".join(f"\n {draw(LEAN_LINE)}" for _ in range(draw(st.integers(0, 2))))
        case = draw(st.one_of(st.none(), st.sampled_from(["h", "inl.h", "succ"])))
        out.append(Goal(hyps, target, case))
    return tuple(out)


@settings(max_examples=150, deadline=None)
@given(goals(), st.lists(st.text(min_size=1, max_size=20).map(str.strip).filter(bool), min_size=1, max_size=3))
def test_states_and_certificates_round_trip(gs, tactics):
    state = render_state(gs)
    assert parse_state(state) == gs
    cert = Certificate("T.name", None, tuple(Step(gs, t) for t in tactics))
    text = encode(cert)
    assert validate_certificate(text) == [], text
    assert decode(text) == cert


def test_states_that_would_not_round_trip_are_refused():
    assert parse_state("") is None
    assert parse_state("no goals") is None  # no ⊢
    assert parse_state("x : ℕ\n\n⊢ p") is None  # a goal block without ⊢
    assert parse_state("weird line\n⊢ p") is None  # a hypothesis without ' : '
    assert parse_state("case h\nx : ℕ\n⊢ p\n\n⊢ q") == (Goal(("x : ℕ",), "⊢ p", "h"), Goal((), "⊢ q"))


def test_tactic_family():
    assert tactic_family("nlinarith [sq_nonneg (a - b)]") == "nlinarith"
    assert tactic_family("by_contra! h") == "by_contra"
    assert tactic_family("cases' h with x") == "cases'"


# ----------------------------------------------------------------------------- derivation


def _row(theorem, sid, parent, state, tactic, depth, complete=False, label="positive"):
    return dict(theorem_name=theorem, state_id=sid, state_pp=state, tactic_applied=tactic, parent_state_id=parent,
                label=label, depth_from_root=depth, remaining_depth=-1, llm_log_prob=0.0, ebm_score=0.0,
                is_proof_complete=complete, timestamp_ms=sid, q_value=0.0, visits=0)


def _write(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=TRAJECTORY), path)
    return path


def _search_a():
    return [
        _row("A.one", 0, None, "x : ℕ\n⊢ x + 0 = x", "", 0),
        _row("A.one", 1, 0, "x : ℕ\n⊢ x = x", "simp only [Nat.add_zero]", 1),
        _row("A.one", 2, 0, "⊢ False", "exfalso", 1, label="negative"),
        _row("A.one", 3, 1, "", "rfl", 2, complete=True),
        _row("B.two", 0, None, "⊢ 1 < 2", "", 0),
        _row("B.two", 1, 0, "", "norm_num", 1, complete=True),
        _row("C.sorry", 0, None, "⊢ p", "", 0),
        _row("C.sorry", 1, 0, "", "sorry", 1, complete=True),
        _row("D.open", 0, None, "⊢ q", "", 0),
        _row("D.open", 1, 0, "⊢ r", "intro", 1, label="negative"),
    ]


def _manifest(tmp: Path, files: list[str], extra: str = "") -> Path:
    theorems = {"theorems": [{"name": "A.one", "statement": "∀ (x : ℕ), x + 0 = x"},
                             {"name": "B.two", "statement": "1 < 2"}]}
    (tmp / "index.json").write_text(json.dumps(theorems, ensure_ascii=False), encoding="utf-8")
    quoted = ", ".join(f'"{f}"' for f in files)
    text = f'name = "cert"\n[sources]\ntrajectories = [{quoted}]\ntheorem_index = "index.json"\n{extra}'
    path = tmp / "cert.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_proof_paths_become_certificates(tmp_path):
    _write(tmp_path / "iter_0.parquet", _search_a())
    m = load_manifest(_manifest(tmp_path, ["iter_0.parquet"]))
    d = derive(m, {"A.one": "∀ (x : ℕ), x + 0 = x"})
    texts = {e.theorem: e.text for e in d.entries}
    assert texts["A.one"] == ("@T A.one : ∀ (x : ℕ), x + 0 = x\n@C x : ℕ\n@G ⊢ x + 0 = x\n"
                              "@P simp only [Nat.add_zero]\n@C x : ℕ\n@G ⊢ x = x\n@P rfl\n@E\n")
    assert texts["B.two"] == "@T B.two\n@G ⊢ 1 < 2\n@P norm_num\n@E\n"  # not in the statements given
    assert d.found == {"iter_0": 3} and d.dropped == {"sorry": 1}


def test_a_path_that_does_not_reach_the_root_is_counted(tmp_path):
    rows = [_row("E.cut", 5, 4, "⊢ p", "intro", 2), _row("E.cut", 6, 5, "", "simp", 3, complete=True)]
    _write(tmp_path / "iter_0.parquet", rows)
    m = load_manifest(_manifest(tmp_path, ["iter_0.parquet"]))
    d = derive(m, {})
    assert d.entries == [] and d.dropped == {"path does not reach the root": 1}


def test_own_state_sources_give_no_proofs(tmp_path):
    _write(tmp_path / "iter_0.parquet", _search_a())
    _write(tmp_path / "neg.parquet", _search_a())
    m = load_manifest(_manifest(tmp_path, ["iter_0.parquet", "neg.parquet"],
                                '[filters]\nown_state_sources = ["neg"]\n'))
    assert set(derive(m, {}).found) == {"iter_0"}


def test_base_traces_that_chain_are_proofs(tmp_path):
    def trace(name, steps):
        return {"full_name": name, "file_path": "M.lean", "start": [1, 1], "end": [2, 1], "url": "u", "commit": "c",
                "traced_tactics": [{"tactic": t, "annotated_tactic": [t, []], "state_before": a, "state_after": b}
                                   for t, a, b in steps]}
    doc = [trace("Base.ok", [("intro x", "⊢ ∀ x, p x", "x : α\n⊢ p x"), ("exact h x", "x : α\n⊢ p x", "no goals")]),
           trace("Base.gap", [("intro x", "⊢ ∀ x, p x", "x : α\n⊢ p x"), ("simp", "⊢ q", "no goals")]),
           trace("Base.open", [("constructor", "⊢ p ∧ q", "⊢ p\n\n⊢ q")])]
    (tmp_path / "ld.json").write_text(json.dumps(doc), encoding="utf-8")
    _write(tmp_path / "iter_0.parquet", _search_a())
    m = load_manifest(_manifest(tmp_path, ["iter_0.parquet"], '[sources.base_pairs]\npath = "ld.json"\n'))
    out = tmp_path / "certs"
    stats = export(m, out)
    text = (out / "training.txt").read_text(encoding="utf-8")
    assert "@T Base.ok\n@G ⊢ ∀ x, p x\n@P intro x\n@C x : α\n@G ⊢ p x\n@P exact h x\n@E\n" in text
    assert "Base.gap" not in text and "Base.open" not in text
    assert stats["left_out"] == {"base trace does not chain": 1, "base trace leaves goals open": 1, "sorry": 1}
    assert stats["sources"] == {"base": 1, "iter_0": 2}


def test_dedup_keeps_one_copy_in_manifest_order(tmp_path):
    _write(tmp_path / "iter_0.parquet", _search_a())
    _write(tmp_path / "iter_1.parquet", _search_a())
    m = load_manifest(_manifest(tmp_path, ["iter_0.parquet", "iter_1.parquet"]))
    kept, removed = dedup(derive(m, {}).entries)
    assert removed == 2 and {e.source for e in kept} == {"iter_0"}


# ----------------------------------------------------------------------------- split


def _entries(n: int):
    from prover_data.certificates.corpus import Entry

    families = ["simp", "linarith", "omega", "intro", "nlinarith"]
    out = []
    for i in range(n):
        fam = families[i % 5] if i % 17 else "rare"
        out.append(Entry(f"@T t{i}\n@G ⊢ p\n@P {fam}\n@E\n", f"t{i}", "iter_0", 0, fam, 1))
        if i % 7 == 0:  # a second proof of the same theorem
            out.append(Entry(f"@T t{i}\n@G ⊢ p\n@P other {i}\n@E\n", f"t{i}", "iter_1", 1, "other", 1))
    return out


def test_split_is_stratified_by_theorem_and_order_independent():
    entries = _entries(400)
    split, stratum = stratified_split(entries, "first_tactic", 0.1, seed=7)
    assert sum(v == "val" for v in split.values()) == 40
    for fam in ("simp", "linarith", "omega", "intro", "nlinarith"):
        members = [t for t, s in stratum.items() if s == fam]
        val = sum(split[t] == "val" for t in members)
        assert abs(val - 0.1 * len(members)) <= 1, (fam, val, len(members))
    shuffled = entries[:]
    random.Random(3).shuffle(shuffled)
    assert stratified_split(shuffled, "first_tactic", 0.1, seed=7) == (split, stratum)
    assert stratified_split(entries, "first_tactic", 0.1, seed=8)[0] != split
    assert stratum["t0"] == "rare"  # a theorem's stratum is its primary (first-file) proof's


# ----------------------------------------------------------------------------- packing


def test_packing_keeps_certificates_whole_and_counts_the_long_ones():
    certs = [bytes([65 + i % 26]) * n for i, n in enumerate([10, 30, 17, 64, 65, 66, 100, 1, 33, 31])]
    packed = pack(certs, context_length=64)  # rows of 65 bytes
    assert packed.too_long == 2 and packed.certificates == 8
    rows = {bytes(r[:n]) for r, n in zip(packed.tokens, packed.lengths)}
    found = sorted(c for c in certs if len(c) <= 65 and any(c in r for r in rows))
    assert found == sorted(c for c in certs if len(c) <= 65)
    assert int(packed.lengths.sum()) == sum(len(c) for c in certs if len(c) <= 65)
    assert all((r[n:] == PAD).all() for r, n in zip(packed.tokens, packed.lengths))
    assert packed.padding_share() == pytest.approx(1 - packed.lengths.sum() / (packed.rows * 65))
    again = pack(list(reversed(certs)), context_length=64)
    assert (again.tokens == packed.tokens).all()


# ----------------------------------------------------------------------------- export and CLI


def _sample_manifest(tmp: Path, extra: str = "") -> Path:
    path = tmp / "sample.toml"
    path.write_text(
        f'name = "sample"\ndata_root = "{SAMPLE.as_posix()}"\n[sources]\ntrajectories = ["trajectories/*.parquet"]\n'
        'theorem_index = "theorem_index.json"\n[sources.base_pairs]\npath = "leandojo/benchmark4.json"\n'
        f'[filters]\nown_state_sources = ["iter_1_negatives"]\n{extra}', encoding="utf-8")
    return path


def test_export_of_the_sample_is_valid_split_and_deterministic(tmp_path, cli):
    manifest = _sample_manifest(tmp_path)
    first = cli("export-certificates", str(manifest), "--out", str(tmp_path / "a"), "--json", check=True)
    stats = json.loads(first.stdout)
    cli("export-certificates", str(manifest), "--out", str(tmp_path / "b"), check=True)
    for name in ("training.txt", "train.txt", "val.txt", "stats.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    text = (tmp_path / "a" / "training.txt").read_text(encoding="utf-8")
    assert validate_corpus(text) == []
    train = split_corpus((tmp_path / "a" / "train.txt").read_text(encoding="utf-8"))
    val = split_corpus((tmp_path / "a" / "val.txt").read_text(encoding="utf-8"))
    assert sorted(train + val) == sorted(split_corpus(text))
    names = lambda cs: {theorem_line(c).split(" ")[1].strip() for c in cs}  # noqa: E731
    assert not names(train) & names(val)
    base = json.loads((SAMPLE / "leandojo" / "benchmark4.json").read_text(encoding="utf-8"))
    assert stats["certificates"]["val"] == len(val) > 0 and stats["proofs_found"]["base"] == len(base)
    # the later proofs of the sample's searches run through off-path states, some not in Lean's layout
    assert stats["left_out"] == {"sorry": 2, "state not in Lean's goal layout": 14}
    assert stats["settings"]["states"] == "every_step"
    assert cli("check-certificates", str(tmp_path / "a" / "training.txt")).returncode == 0


def test_first_state_corpus_is_shorter(tmp_path):
    every = export(load_manifest(_sample_manifest(tmp_path)), tmp_path / "every")
    (tmp_path / "f").mkdir()
    first = export(load_manifest(_sample_manifest(tmp_path / "f", '[certificates]\nstates = "first"\n')),
                   tmp_path / "first")
    # every step's state must be in Lean's layout, so only first-state certificates keep the
    # proofs that pass through an off-layout state
    layout = every["left_out"].get("state not in Lean's goal layout", 0)
    assert first["certificates"]["training"] == every["certificates"]["training"] + layout
    assert "state not in Lean's goal layout" not in first["left_out"]
    assert first["files"]["training.txt"]["bytes"] < every["files"]["training.txt"]["bytes"] / 2
    assert validate_corpus((tmp_path / "first" / "training.txt").read_text(encoding="utf-8")) == []


def test_bad_inputs_stop_the_export_and_write_nothing(tmp_path, cli):
    rows = _search_a()
    rows[3]["parent_state_id"] = 99  # a parent that does not exist
    _write(tmp_path / "iter_0.parquet", rows)
    manifest = _manifest(tmp_path, ["iter_0.parquet"])
    proc = cli("export-certificates", str(manifest), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "parent_state_id" in proc.stderr and "iter_0.parquet" in proc.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError):
        export(load_manifest(manifest), tmp_path / "out")


def test_check_certificates_reports_errors(tmp_path, cli):
    bad = tmp_path / "samples.txt"
    bad.write_text(GOOD + "@T b\n@P simp\n@E\n", encoding="utf-8")
    proc = cli("check-certificates", str(bad))
    assert proc.returncode == 2 and "line 15: step without goal" in proc.stderr
