"""Lean-looking text: goal states derived from a theorem statement, tactics, and
synthetic theorem names and statements to top up the real ones."""

from __future__ import annotations

import re

import numpy as np

SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉"
TACTICS = (
    "simp", "ring", "omega", "norm_num", "decide", "trivial", "rfl", "tauto", "linarith",
    "push_neg", "contradiction", "exfalso", "constructor", "left", "right", "ext", "simp_all",
    "positivity", "field_simp", "ring_nf", "nlinarith [sq_nonneg (a - b), sq_nonneg (b - c)]",
    "nlinarith [sq_nonneg (a + b), mul_pos ha hb]", "rw [h₀] at h₁", "intro x hx", "intro h",
    "apply le_of_sub_nonneg", "norm_num [Nat.factorial] at h ⊢", "rcases h with ⟨x, rfl⟩",
    "induction n with\n  | zero => simp\n  | succ n ih => simp_all", "exact ⟨by linarith, by linarith⟩",
    "have h₂ : 0 < a * b := mul_pos ha hb", "obtain ⟨k, hk⟩ := h", "by_contra! h'",
    "cases' le_total a b with hab hab", "gcongr", "subst hx", "unfold Function.Injective",
    "apply mul_pos <;> linarith", "nlinarith [sq_nonneg (x - 1), sq_nonneg (x + 1), sq_abs x]",
)
NAMESPACES = ("Nat", "Int", "Real", "Finset", "Polynomial", "MeasureTheory", "Filter", "Set",
              "Matrix", "ZMod", "Complex", "List", "Multiset", "Ideal", "LinearMap")
VERBS = ("le_of_lt", "add_comm", "mul_le_mul", "sum_range_succ", "pow_le_pow", "card_le",
         "eq_zero_of", "sub_nonneg", "tendsto_nhds", "dvd_iff", "cast_inj", "exists_of",
         "map_comp", "div_le_iff", "sq_le_sq")


_BINDER = re.compile(r"\(([^():]+?) : ([^()]*(?:\([^()]*\)[^()]*)*)\)")


def _split_statement(statement: str) -> tuple[list[str], str]:
    """Hypotheses (``x y : ℝ``, ``h : 0 < x``) and goal of a ``∀ (…) (…), goal`` statement."""
    s = statement.strip()
    if not s.startswith("∀"):
        return [], s
    hyps: list[str] = []
    pos = 1
    while True:
        m = _BINDER.match(s, pos + (1 if s[pos:pos + 1] == " " else 0))
        if not m:
            break
        hyps.append(f"{m.group(1).strip()} : {m.group(2).strip()}")
        pos = m.end()
    rest = s[pos:].lstrip()
    if not hyps or not rest.startswith(","):
        return [], s
    return hyps, rest[1:].strip()


def _sub(i: int) -> str:
    return "".join(SUBSCRIPTS[int(c)] for c in str(i))


class LeanText:
    """Deterministic Lean-looking states derived from a theorem statement."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def root(self, statement: str) -> str:
        hyps, goal = _split_statement(statement)
        return "\n".join(hyps + [f"⊢ {goal}"])

    def derived(self, statement: str, k: int, salt: int) -> str:
        """The k-th reachable state of a theorem: extra hypotheses, a rewritten goal."""
        hyps, goal = _split_statement(statement)
        r = np.random.default_rng([salt, k])
        extra = []
        for j in range(3 + int(r.integers(0, 4))):
            a, b, c = (int(x) for x in r.integers(1, 60, 3))
            v = ("a", "b", "c", "x", "y", "n")[int(r.integers(0, 6))]
            form = int(r.integers(0, 6))
            if form == 0:
                expr = f"0 < {a} * {v} ^ 2 + {b} * {v} + {c}"
            elif form == 1:
                expr = f"{v} ^ {a % 5 + 2} ≤ {b} * ({v} + {c}) ^ 2 + ({v} - {b}) ^ 2 * {c}"
            elif form == 2:
                expr = f"∀ ε > 0, ∃ δ > 0, ∀ y, |y - {v}| < δ → |y ^ 2 - {v} ^ 2| < ε * {b}"
            elif form == 3:
                expr = f"({a} : ℝ) * {v} + {b} = {c} ∧ {v} ≠ {a + b}"
            elif form == 4:
                expr = f"∑ i ∈ Finset.range {a}, ({v} + ↑i) ^ 2 ≤ {b} * {v} ^ 2 + {c} * ↑{a} ^ 3"
            else:
                expr = f"{v} * ({v} + {a}) * ({v} + {b}) ≥ ({v} + {c}) ^ 3 - {a * b} * {v}"
            extra.append(f"h{_sub(k * 7 + j)} : {expr}")
        d = int(r.integers(1, 40))
        twist = ("", f" + {d} * (a - b) ^ 2", f" * {d}", f" - {d} / (1 + {d})")[k % 4]
        new_goal = f"{goal}{twist}" if k % 5 else f"({goal}) ∧ {d} ≤ {d + k}"
        lines = hyps + extra + [f"⊢ {new_goal}"]
        if k % 11 == 3:  # a second goal, printed after a blank line as Lean does for cases
            lines += ["", f"case h.right\n{hyps[0] if hyps else 'x : ℝ'}\n⊢ 0 ≤ {d}"]
        return "\n".join(lines)

    def tactic(self) -> str:
        return TACTICS[int(self.rng.integers(0, len(TACTICS)))]


def synthetic_statement(r: np.random.Generator, i: int) -> str:
    a, b, c = (int(x) for x in r.integers(2, 90, 3))
    kind = i % 4
    if kind == 0:
        return (f"∀ {{α : Type u_1}} [inst : LinearOrderedField α] (x y : α) (hx : 0 < x) (hy : 0 < y), "
                f"x / y + y / x ≥ {a} / {a + 1} - {b} * (x - y) ^ 2 / (x * y + {c})")
    if kind == 1:
        return (f"∀ (n : ℕ) (hn : {a} ≤ n), ∑ i ∈ Finset.range n, (i + {b}) ^ 2 ≤ "
                f"(n + {c}) ^ 3 * {a}")
    if kind == 2:
        return (f"∀ (f : ℝ → ℝ) (hf : ∀ x y, f (x + y) = f x + f y) (h{_sub(a % 10)} : f 1 = {b}), "
                f"f {c} = {b * c}")
    return f"∀ (p : ℕ) (hp : Nat.Prime p) (h : p ∣ {a} * {b}), p ∣ {a} ∨ p ∣ {b} + {c} * 0"


def synthetic_name(r: np.random.Generator, i: int) -> str:
    ns = NAMESPACES[int(r.integers(0, len(NAMESPACES)))]
    verb = VERBS[int(r.integers(0, len(VERBS)))]
    return f"{ns}.{verb}_{i}"
