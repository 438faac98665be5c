"""``prover-data import-leandojo``: conversion of traced theorems to Benchmark 4 JSON, and its
prerequisite checks.

Tracing itself needs a Lean toolchain and network, which tests do not have; the
conversion is tested on small stand-ins with the attributes of LeanDojo's traced
objects (``TracedRepo``, ``TracedTheorem``, ``TracedTactic``), and its output is read
back with the project's own Benchmark 4 reader.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from prover_data.cli.leandojo import benchmark_entries
from prover_data.inputs.leandojo import read_leandojo
from tests.conftest import REPO, run_cli


@dataclass(frozen=True)
class Repo:  # LeanGitRepo: compared by value, as LeanDojo's dataclass is
    url: str
    commit: str
    is_lean4: bool = False


@dataclass
class Theorem:
    full_name: str
    file_path: Path


@dataclass
class Tactic:
    tactic: str
    state_before: str
    state_after: str
    provenances: list = field(default_factory=list)

    def get_annotated_tactic(self):
        marked = self.tactic
        for p in self.provenances:
            marked = marked.replace(p["full_name"], f"<a>{p['full_name']}</a>")
        return marked, self.provenances


@dataclass
class TracedTheorem:
    repo: Repo
    theorem: Theorem
    start: tuple[int, int]
    end: tuple[int, int]
    tactics: list[Tactic]

    def get_traced_tactics(self):
        return self.tactics


@dataclass
class TracedRepo:
    repo: Repo
    dependencies: dict[str, Repo]
    theorems: list[TracedTheorem]

    def get_traced_theorems(self):
        return self.theorems


MATHLIB = Repo("https://github.com/leanprover-community/mathlib4", "29dcec074de168ac2bf835a77ef68bbe069194c5")
BATTERIES = Repo("https://github.com/leanprover-community/batteries", "a1b2c3")
LEAN4 = Repo("https://github.com/leanprover/lean4", "v4.9.0", is_lean4=True)
ADD_COMM = {"full_name": "Nat.add_comm", "def_path": ".lake/packages/lean4/src/lean/Init/Data/Nat/Basic.lean",
            "def_pos": [140, 19], "def_end_pos": [140, 27]}


def traced_repo() -> TracedRepo:
    later = TracedTheorem(MATHLIB, Theorem("Nat.two_add", Path("Mathlib/Data/Nat/Two.lean")), (30, 1), (33, 9), [
        Tactic("rw [Nat.add_comm]", "n : ℕ\n⊢ 2 + n = n + 2", "no goals", [ADD_COMM]),
    ])
    earlier = TracedTheorem(MATHLIB, Theorem("Nat.pair_le", Path("Mathlib/Data/Nat/Two.lean")), (5, 1), (12, 10), [
        Tactic("constructor", "a b : ℕ\n⊢ a ≤ a ∧ b ≤ b", "case left\n⊢ a ≤ a\ncase right\n⊢ b ≤ b"),
        Tactic("· exact le_refl a", "case left\n⊢ a ≤ a", "case right\n⊢ b ≤ b"),  # a bullet: skipped
        Tactic("exact le_refl b", "case right\n⊢ b ≤ b", "no goals"),
        Tactic("done", "no goals", "no goals"),  # starts from no goals: skipped
    ])
    dep = TracedTheorem(BATTERIES, Theorem("List.length_nil'", Path("Batteries/Data/List.lean")), (1, 1), (2, 5), [
        Tactic("rfl", "⊢ [].length = 0", "no goals"),
    ])
    core = TracedTheorem(LEAN4, Theorem("Nat.zero_add", Path("src/lean/Init/Nat.lean")), (1, 1), (2, 5), [
        Tactic("simp", "⊢ 0 + n = n", "no goals"),
    ])
    return TracedRepo(MATHLIB, {"batteries": BATTERIES, "lean4": LEAN4}, [later, core, dep, earlier])


def test_traced_theorems_become_benchmark4_json(tmp_path):
    entries = benchmark_entries(traced_repo())
    assert [e["full_name"] for e in entries] == ["List.length_nil'", "Nat.pair_le", "Nat.two_add"]  # by file, position
    dep, pair_le, two_add = entries
    assert dep["file_path"] == ".lake/packages/batteries/Batteries/Data/List.lean"
    assert dep["url"] == MATHLIB.url and dep["commit"] == MATHLIB.commit  # the traced repo, as LeanDojo writes it
    assert pair_le == {
        "url": MATHLIB.url, "commit": MATHLIB.commit, "file_path": "Mathlib/Data/Nat/Two.lean",
        "full_name": "Nat.pair_le", "start": [5, 1], "end": [12, 10],
        "traced_tactics": [
            {"tactic": "constructor", "annotated_tactic": ["constructor", []],
             "state_before": "a b : ℕ\n⊢ a ≤ a ∧ b ≤ b", "state_after": "case left\n⊢ a ≤ a\ncase right\n⊢ b ≤ b"},
            {"tactic": "exact le_refl b", "annotated_tactic": ["exact le_refl b", []],
             "state_before": "case right\n⊢ b ≤ b", "state_after": "no goals"},
        ],
    }
    assert two_add["traced_tactics"][0]["annotated_tactic"] == ["rw [<a>Nat.add_comm</a>]", [ADD_COMM]]
    assert [e["full_name"] for e in benchmark_entries(traced_repo(), repo_only=True)] == ["Nat.pair_le", "Nat.two_add"]

    out = tmp_path / "benchmark4.json"
    out.write_text(json.dumps(entries))
    pairs = read_leandojo(out)  # the reader base_pairs go through
    assert pairs.column("theorem_name").to_pylist() == ["List.length_nil'", "Nat.pair_le", "Nat.pair_le", "Nat.two_add"]
    assert pairs.column("tactic").to_pylist() == ["rfl", "constructor", "exact le_refl b", "rw [Nat.add_comm]"]
    assert pairs.column("state_pp").to_pylist()[3] == "n : ℕ\n⊢ 2 + n = n + 2"


def test_without_the_lean_extra_it_says_what_to_install(tmp_path):
    block = "import sys; sys.modules['lean_dojo'] = None; from prover_data.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", block, "import-leandojo", MATHLIB.url, MATHLIB.commit,
                           str(tmp_path / "out.json")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'prover-data[lean]'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out.json").exists()


def test_without_a_lean_toolchain_it_stops_before_any_fetch(tmp_path):
    pytest.importorskip("lean_dojo", reason="lean-dojo is the optional 'lean' extra; "
                                            "without it the missing-extra check above applies")
    bin_dir = tmp_path / "bin"  # a PATH with git (lean_dojo checks its version on import) and no lake/lean/elan
    bin_dir.mkdir()
    os.symlink(shutil.which("git"), bin_dir / "git")
    proc = run_cli("import-leandojo", MATHLIB.url, MATHLIB.commit, str(tmp_path / "out.json"),
                   env={"PATH": str(bin_dir), "CACHE_DIR": str(tmp_path / "cache")}, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "no Lean toolchain found" in proc.stderr and "elan" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out.json").exists()
    assert not any((tmp_path / "cache").glob("*"))  # lean_dojo makes its cache dir on import; nothing fetched into it
