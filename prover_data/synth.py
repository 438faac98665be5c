"""A deterministic, report-scale replica of an expert-iteration round's inputs.

No trajectory parquet of the report's project is public, so tests, the demo and the
benchmarks run on this replica instead. It imitates what matters to the data layer:

* best-first search trees (root with an empty tactic, expansions of up to 8 children,
  deeper nodes preferred, state ids unique per search), written per file as BurnQED
  writes them;
* proved searches whose proof path is ``positive`` with ``remaining_depth`` counting
  down to 0 at a completing node with an empty state (no goals left), everything else
  ``negative``; a few ``unknown`` searches; a few ``sorry`` tactics;
* the report's 8 files with its proportions (rows, positive rows, proofs found, hence
  the SFT loader's usable/empty/dup counts), iter_1_negatives being the
  generate-negatives output: long ground-truth chains, partly recorded twice;
* states that recur across files and theorems (one unique state per ~three records)
  and states that are positive in one search and negative in another;
* Lean text from the real Lean Workbook statements in ``data/burnqed`` (several
  hundred characters per goal, Unicode), never a miniF2F or Putnam theorem;
* a theorem index with whitespace-only statement twins, a held-out ``train_eval``
  list, LeanDojo-style base tactic pairs, and two eval search runs.

Everything is drawn from one ``numpy`` generator seeded by ``seed``; files are
written with fixed parquet settings, so a seed and scale give byte-identical output.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.atomic import atomic_dir
from prover_data.identity import normalize_statement
from prover_data.schema import TRAJECTORY

BUNDLED_LISTS = Path(__file__).resolve().parent.parent / "data" / "burnqed"
SEED_LISTS = ("goedel_depth3.json", "goedel_depth4plus.json", "iter0_search_theorems.json")
AUDIT_LISTS = ("minif2f_test.json", "minif2f_valid.json", "minif2f_v2s_test.json",
               "minif2f_v2c_test.json", "putnam.json")
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, row_group_size=65536,
                       write_statistics=True, use_dictionary=True)


@dataclass(frozen=True)
class FileProfile:
    """One trajectory file of the report at scale 1.0."""

    name: str
    rows: int  # records in the file
    searches: int  # theorems searched
    proofs: int  # searches that found a proof
    kind: str = "search"  # "search" or "negatives" (generate-negatives chains)
    ebm: bool = False  # searched with an EBM (non-zero ebm_score)


# Rows are the report's; searches and proofs are chosen so that positive rows and the
# SFT loader's usable/empty counts land near the report's per-file lines.
REPORT_FILES = (
    FileProfile("iter_0", 3_830, 250, 120),
    FileProfile("iter_0_noisy", 4_619, 300, 170),
    FileProfile("iter_1", 140_910, 4_000, 1_280, ebm=True),
    FileProfile("iter_1_harvest", 37_861, 1_500, 630, ebm=True),
    FileProfile("iter_1_negatives", 127_182, 2_500, 2_500, kind="negatives"),
    FileProfile("iter_2", 250_275, 7_000, 1_750, ebm=True),
    FileProfile("iter_2_broken_ebm", 80_314, 2_500, 575, ebm=True),
    FileProfile("iter_2_search", 5_033, 120, 45, ebm=True),
)
TRAJECTORY_THEOREMS = 15_426
INDEX_THEOREMS = 62_000
BASE_TACTICS = 62_000
TRAIN_EVAL = 198
WHITESPACE_TWINS = 300
SORRY_TACTICS = 10
EVAL_THEOREMS, EVAL_RAN = 100, 83

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


@dataclass(frozen=True)
class FileSummary:
    name: str
    rows: int
    positive: int
    negative: int
    unknown: int
    theorems: int
    proved: int


@dataclass(frozen=True)
class SynthSummary:
    out: str
    scale: float
    seed: int
    files: tuple[FileSummary, ...]
    records: int
    theorems: int
    proved_theorems: int
    unique_states: int
    index_theorems: int
    base_tactics: int

    def to_dict(self) -> dict:
        return asdict(self)


def _n(count: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, int(round(count * scale)))


# --------------------------------------------------------------------------- Lean text


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


def _synthetic_statement(r: np.random.Generator, i: int) -> str:
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


def _synthetic_name(r: np.random.Generator, i: int) -> str:
    ns = NAMESPACES[int(r.integers(0, len(NAMESPACES)))]
    verb = VERBS[int(r.integers(0, len(VERBS)))]
    return f"{ns}.{verb}_{i}"


# --------------------------------------------------------------------------- theorem pool


@dataclass
class TheoremPool:
    names: list[str]
    statements: list[str]


def _load_lists(names: tuple[str, ...], lists_dir: Path) -> list[dict]:
    out = []
    for n in names:
        out.extend(json.loads((lists_dir / n).read_text(encoding="utf-8"))["theorems"])
    return out


def build_index(rng: np.random.Generator, scale: float, lists_dir: Path) -> TheoremPool:
    """Real Lean Workbook theorems (never an audit-list one) topped up with synthetic ones."""
    audit = _load_lists(AUDIT_LISTS, lists_dir)
    banned_names = {t["name"] for t in audit}
    banned_statements = {normalize_statement(t["statement"]) for t in audit}
    seen: set[str] = set()
    statements: set[str] = set(banned_statements)  # no two index statements are equal up to whitespace
    real = []
    for t in _load_lists(SEED_LISTS, lists_dir):
        norm = normalize_statement(t["statement"])
        if t["name"] in seen or t["name"] in banned_names or norm in statements:
            continue
        seen.add(t["name"])
        statements.add(norm)
        real.append((t["name"], t["statement"]))
    want = _n(INDEX_THEOREMS, scale, minimum=400)
    order = rng.permutation(len(real))
    n_real = min(len(real), int(want * 0.22))
    chosen = [real[i] for i in order[:n_real]]
    k = 0
    while len(chosen) < want:
        name = _synthetic_name(rng, k)
        statement = _synthetic_statement(rng, k)
        norm = normalize_statement(statement)
        if name not in seen and norm not in statements:
            seen.add(name)
            statements.add(norm)
            chosen.append((name, statement))
        k += 1
    perm = rng.permutation(len(chosen))
    chosen = [chosen[i] for i in perm]
    return TheoremPool([c[0] for c in chosen], [c[1] for c in chosen])


def _whitespace_variant(statement: str, r: np.random.Generator) -> str:
    parts = statement.split(" ")
    out = parts[0]
    for p in parts[1:]:
        out += ("  ", "\n    ", " \t", " ")[int(r.integers(0, 4))] + p
    return out if out != statement else statement + " "


# --------------------------------------------------------------------------- searches


@dataclass
class Columns:
    """Trajectory columns of one file, filled search by search."""

    theorem_name: list
    state_id: list
    state_pp: list
    tactic_applied: list
    parent_state_id: list
    label: list
    depth_from_root: list
    remaining_depth: list
    llm_log_prob: list
    ebm_score: list
    is_proof_complete: list
    timestamp_ms: list
    q_value: list
    visits: list

    @classmethod
    def empty(cls) -> "Columns":
        return cls(*([] for _ in range(14)))

    def table(self) -> pa.Table:
        return pa.table({f: getattr(self, f) for f in TRAJECTORY.names}, schema=TRAJECTORY)


@dataclass
class TheoremModel:
    """What every search of one theorem shares: its root, state pool and proof."""

    name: str
    statement: str
    salt: int
    pool_size: int
    proof_depth: int
    difficulty: float


class Searcher:
    """Builds best-first search trees and labels them as BurnQED does."""

    CACHE_LIMIT = 400_000

    def __init__(self, rng: np.random.Generator, text: LeanText):
        self.rng = rng
        self.text = text
        self._state_cache: dict[tuple[int, int], str] = {}
        self._root_cache: dict[int, str] = {}
        self.clock = 1_730_000_000_000

    def state(self, th: TheoremModel, k: int) -> str:
        if k == 0:
            s = self._root_cache.get(th.salt)
            if s is None:
                s = self._root_cache[th.salt] = self.text.root(th.statement)
            return s
        key = (th.salt, k)
        s = self._state_cache.get(key)
        if s is None:
            if len(self._state_cache) > self.CACHE_LIMIT:  # text is a pure function of key
                self._state_cache.clear()
            s = self._state_cache[key] = self.text.derived(th.statement, k, th.salt)
        return s

    def tree(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Parents and depths of an m-node best-first tree (node 0 the root)."""
        rng = self.rng
        parent = np.full(m, -1, dtype=np.int64)
        depth = np.zeros(m, dtype=np.int64)
        frontier = [0]
        n = 1
        while n < m and frontier:
            # Best-first: usually the most recent (deepest, best-scored) node, sometimes another.
            pick = len(frontier) - 1 if rng.random() < 0.55 else int(rng.integers(0, len(frontier)))
            p = frontier.pop(pick)
            kids = min(1 + int(rng.binomial(7, 0.3)), m - n)  # of 8 candidates, most fail
            parent[n:n + kids] = p
            depth[n:n + kids] = depth[p] + 1
            frontier.extend(range(n, n + kids))
            n += kids
        return parent[:n], depth[:n]

    def search(self, cols: Columns, th: TheoremModel, m: int, proved: bool, ebm: bool,
               label_unknown: bool, path_salt: int, sorry_budget: list[int]) -> tuple[int, bool]:
        """Append one search of ``th`` with about ``m`` nodes; return (rows, proved)."""
        rng = self.rng
        parent, depth = self.tree(max(2, m))
        n = len(parent)
        on_path = np.zeros(n, dtype=bool)
        remaining = np.full(n, -1, dtype=np.int64)
        complete = -1
        if proved:
            target = min(th.proof_depth, int(depth.max()))
            candidates = np.flatnonzero(depth == target)
            complete = int(candidates[int(rng.integers(0, len(candidates)))])
            node, steps = complete, 0
            while node != -1:
                on_path[node] = True
                remaining[node] = steps
                node = int(parent[node])
                steps += 1
        # Negative states come from the theorem's pool with a skew, so searches of one
        # theorem (in this file and others) meet the same states again.
        pool_draw = 1 + np.minimum(
            (rng.pareto(1.2, n) * th.pool_size * 0.15).astype(np.int64), th.pool_size - 1
        )
        canonical = rng.random(n) < 0.03
        t0 = self.clock
        self.clock += int(rng.integers(10_000, 200_000))
        logp = -rng.gamma(1.5, 1.2, n)
        energy = rng.normal(1.5, 1.0, n) if ebm else np.zeros(n)
        for i in range(n):
            if i == 0:
                state, tactic = self.state(th, 0), ""
            elif i == complete:
                state, tactic = "", self.text.tactic()
            elif on_path[i]:
                state = self.state(th, 1_000_000 + path_salt * 100 + int(depth[i]))
                tactic = self.text.tactic()
            elif canonical[i]:  # a state that is on this theorem's proof elsewhere
                state = self.state(th, 1_000_000 + 1 + int(rng.integers(0, max(th.proof_depth, 30))))
                tactic = self.text.tactic()
            else:
                state, tactic = self.state(th, int(pool_draw[i])), self.text.tactic()
            if on_path[i] and i and sorry_budget[0] > 0 and i != complete and rng.random() < sorry_budget[1]:
                tactic = "sorry"
                sorry_budget[0] -= 1
            if label_unknown:
                label = "unknown"
            elif on_path[i]:
                label = "positive"
            else:
                label = "negative"
            cols.theorem_name.append(th.name)
            cols.state_id.append(i)
            cols.state_pp.append(state)
            cols.tactic_applied.append(tactic)
            cols.parent_state_id.append(None if i == 0 else int(parent[i]))
            cols.label.append(label)
            cols.depth_from_root.append(int(depth[i]))
            cols.remaining_depth.append(int(remaining[i]))
            cols.llm_log_prob.append(0.0 if i == 0 else float(logp[i]))
            cols.ebm_score.append(float(energy[i]))
            cols.is_proof_complete.append(i == complete)
            cols.timestamp_ms.append(t0 + i * 37)
            cols.q_value.append(0.0)
            cols.visits.append(0)
        return n, proved

    def negatives_chain(self, cols: Columns, th: TheoremModel, length: int, negatives: int,
                        repeat: bool) -> int:
        """generate-negatives: a ground-truth chain walked step by step, wrong tactics off it.

        As BurnQED's ``generate-negatives`` writes them, a positive record holds the state
        *before* a ground-truth step and the tactic applied *at* it (not the tactic that
        reached it, as search records do); a negative is the state a wrong tactic led to.
        Some chains are recorded twice (a re-run), which the SFT loader sees as duplicates.
        """
        rng = self.rng
        states = [self.state(th, 0)] + [self.state(th, 1_000_000 + j) for j in range(1, length)]
        tactics = [self.text.tactic() for _ in range(length)]
        ids = 0
        chain_ids = []
        for recording in range(2 if repeat else 1):
            prev = None if recording == 0 else chain_ids[0]
            for j in range(0 if recording == 0 else 1, length):
                self._row(cols, th.name, ids, states[j], tactics[j], prev, "positive", j, length - j, False)
                if recording == 0:
                    chain_ids.append(ids)
                prev = ids
                ids += 1
        for _ in range(negatives):
            at = int(rng.integers(0, length))
            state = self.state(th, 1 + int(rng.integers(0, th.pool_size)))
            self._row(cols, th.name, ids, state, self.text.tactic(), chain_ids[at], "negative", at + 1, -1, False)
            ids += 1
        return ids

    def _row(self, cols: Columns, name: str, sid: int, state: str, tactic: str, parent: int | None,
             label: str, depth: int, remaining: int, complete: bool) -> None:
        cols.theorem_name.append(name)
        cols.state_id.append(sid)
        cols.state_pp.append(state)
        cols.tactic_applied.append(tactic)
        cols.parent_state_id.append(parent)
        cols.label.append(label)
        cols.depth_from_root.append(depth)
        cols.remaining_depth.append(remaining)
        cols.llm_log_prob.append(0.0 if parent is None else float(-self.rng.gamma(1.5, 1.2)))
        cols.ebm_score.append(0.0)
        cols.is_proof_complete.append(complete)
        self.clock += 41
        cols.timestamp_ms.append(self.clock)
        cols.q_value.append(0.0)
        cols.visits.append(0)


# --------------------------------------------------------------------------- orchestration


class _FileWriter:
    """Streams one trajectory file in fixed-size chunks, so scale 16 fits in memory."""

    CHUNK = 4 * 65536

    def __init__(self, path: Path):
        self.writer = pq.ParquetWriter(path, TRAJECTORY, **PARQUET_OPTIONS_WRITER)
        self.cols = Columns.empty()
        self.summary = dict(rows=0, positive=0, negative=0, unknown=0)
        self.theorems: set[str] = set()
        self.proved: set[str] = set()
        self.states: set[bytes] = set()

    def maybe_flush(self, force: bool = False) -> None:
        if self.cols.state_id and (force or len(self.cols.state_id) >= self.CHUNK):
            t = self.cols.table()
            labels = t.column("label").to_pylist()
            for lab in ("positive", "negative", "unknown"):
                self.summary[lab] += labels.count(lab)
            self.summary["rows"] += t.num_rows
            names = t.column("theorem_name").to_pylist()
            self.theorems.update(names)
            self.proved.update(n for n, lab in zip(names, labels) if lab == "positive")
            self.writer.write_table(t, row_group_size=PARQUET_OPTIONS["row_group_size"])
            self.cols = Columns.empty()

    def close(self) -> None:
        self.maybe_flush(force=True)
        self.writer.close()


PARQUET_OPTIONS_WRITER = {k: v for k, v in PARQUET_OPTIONS.items() if k != "row_group_size"}


def _assign(rng: np.random.Generator, theorems: int, sizes: list[int]) -> list[np.ndarray]:
    """Theorem ids searched by each file: every theorem at least once, some re-searched."""
    unused = list(rng.permutation(theorems))
    used: list[int] = []
    total = sum(sizes)
    out = []
    for i, size in enumerate(sizes):
        last = i == len(sizes) - 1
        k_new = len(unused) if last else min(len(unused), int(round(size * theorems / total)))
        k_new = max(k_new, size - len(used))
        new, unused = unused[:k_new], unused[k_new:]
        k_old = max(0, size - len(new))
        old = list(rng.choice(used, k_old, replace=False)) if k_old else []
        used.extend(new)
        out.append(np.array(new + old, dtype=np.int64))
    return out


def generate(out: str | Path, scale: float = 1.0, seed: int = 0, *, copy_lists: bool = True,
             lists_dir: Path = BUNDLED_LISTS, progress=None) -> SynthSummary:
    """Write a replica data root at ``out`` (atomically) and return its summary."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    out = Path(out)
    rng = np.random.default_rng(seed)
    text = LeanText(rng)
    searcher = Searcher(rng, text)
    index = build_index(rng, scale, lists_dir)

    n_traj = min(_n(TRAJECTORY_THEOREMS, scale, 20), len(index.names) // 2)
    traj_ids = np.sort(rng.choice(len(index.names), n_traj, replace=False))
    # generate-negatives re-walks theorems searched before (picked while generating);
    # the search files between them cover every trajectory theorem.
    sizes = [0 if f.kind == "negatives" else min(_n(f.searches, scale), n_traj) for f in REPORT_FILES]
    per_file = _assign(rng, n_traj, sizes)
    appearances = np.bincount(np.concatenate(per_file), minlength=n_traj)
    mean_nodes = {f.name: f.rows / f.searches for f in REPORT_FILES}
    models = []
    for j, idx in enumerate(traj_ids):
        expected = appearances[j] * 40
        models.append(TheoremModel(
            name=index.names[idx], statement=index.statements[idx], salt=int(rng.integers(1, 1 << 62)),
            pool_size=max(4, int(expected * 0.22)),
            proof_depth=int(min(8, rng.geometric(0.55))), difficulty=float(rng.random()),
        ))

    summaries = []
    all_states: set[bytes] = set()
    sorry_budget = [_n(SORRY_TACTICS, scale), 0.004]  # [left, chance per proof step]
    proved_ids: set[int] = set()
    with atomic_dir(out) as tmp:
        (tmp / "trajectories").mkdir()
        task = progress.add_task("trajectories", total=len(REPORT_FILES)) if progress else None
        for fi, (profile, ids) in enumerate(zip(REPORT_FILES, per_file)):
            w = _FileWriter(tmp / "trajectories" / f"{profile.name}.parquet")
            if profile.kind == "negatives":
                ids = _pick_rewalked(rng, per_file[:fi], proved_ids, min(_n(profile.searches, scale), n_traj))
                per_file[fi] = ids
                _negatives_file(rng, searcher, w, [models[i] for i in ids], profile)
                proved_ids.update(ids.tolist())
            else:
                n_proofs = min(len(ids), _n(profile.proofs, scale))
                noise = rng.random(len(ids)) * 2.0
                by_difficulty = [i for _, i in sorted(zip((models[i].difficulty + e for i, e in zip(ids, noise)), ids))]
                proved_set = set(by_difficulty[:n_proofs])
                proved_ids.update(proved_set)
                k_unproved = (len(ids) - 0.6 * n_proofs) / max(1, len(ids) - n_proofs)
                if profile.name == "iter_2":  # whatever sorry budget is left lands on its first proof steps
                    sorry_budget[1] = 1.0
                for i in ids:
                    th = models[i]
                    proved = i in proved_set
                    size = mean_nodes[profile.name] * float(rng.lognormal(-0.18, 0.6)) * (0.6 if proved else k_unproved)
                    path_salt = fi + 1 if rng.random() < 0.65 else 0
                    searcher.search(w.cols, th, int(round(size)), proved, profile.ebm, False,
                                    path_salt, sorry_budget)
                    w.maybe_flush()
                if profile.name == "iter_2_search":  # a search that ended without labels
                    in_file = set(ids.tolist())
                    th = next(models[i] for i in per_file[0] if i not in in_file)
                    searcher.search(w.cols, th, max(3, int(66 * scale)), False, True, True, 0, [0, 0.0])
            w.close()
            all_states.update(_state_keys(tmp / "trajectories" / f"{profile.name}.parquet"))
            summaries.append(FileSummary(profile.name, w.summary["rows"], w.summary["positive"],
                                         w.summary["negative"], w.summary["unknown"],
                                         len(w.theorems), len(w.proved)))
            if progress:
                progress.advance(task)

        traj_names = {models[j].name for j in range(n_traj)}
        train_eval, eval_names = _write_lists(rng, tmp, index, traj_names, scale)
        _write_eval_runs(rng, searcher, tmp, index, eval_names)
        base = _write_leandojo(rng, tmp, index, traj_names, set(train_eval) | set(eval_names), scale)
        if copy_lists:
            (tmp / "benchmarks").mkdir()
            for f in sorted(lists_dir.glob("*.json")):
                shutil.copyfile(f, tmp / "benchmarks" / f.name)
            (tmp / "configs").mkdir()
            shutil.copyfile(lists_dir / "search.toml", tmp / "configs" / "search.toml")

    proved = set()
    theorems = set()
    for fs, ids in zip(summaries, per_file):
        theorems.update(models[i].name for i in ids)
    for f in REPORT_FILES:
        proved.update(_positive_theorems(out / "trajectories" / f"{f.name}.parquet"))
    return SynthSummary(
        out=str(out), scale=scale, seed=seed, files=tuple(summaries),
        records=sum(s.rows for s in summaries), theorems=len(theorems), proved_theorems=len(proved),
        unique_states=len(all_states), index_theorems=len(index.names), base_tactics=base,
    )


def _pick_rewalked(rng, earlier: list[np.ndarray], proved: set[int], n: int) -> np.ndarray:
    """Theorems for generate-negatives: searched before, mostly without a proof found."""
    seen = np.unique(np.concatenate(earlier)) if earlier else np.array([], dtype=np.int64)
    unproved = np.array([i for i in seen if i not in proved], dtype=np.int64)
    proved_seen = np.array([i for i in seen if i in proved], dtype=np.int64)
    k = min(len(unproved), int(n * 0.8))
    take = list(rng.choice(unproved, k, replace=False)) if k else []
    rest = min(len(proved_seen), n - k)
    take += list(rng.choice(proved_seen, rest, replace=False)) if rest else []
    return np.array(sorted(take), dtype=np.int64)


def _negatives_file(rng, searcher: Searcher, w: _FileWriter, theorems: list[TheoremModel],
                    profile: FileProfile) -> None:
    """generate-negatives: ~35-step chains, a fifth recorded twice, ~8 negatives per theorem."""
    negatives_per = (profile.rows - 106_328) / profile.searches
    for th in theorems:
        length = int(rng.integers(15, 56))
        repeat = rng.random() < 0.2
        searcher.negatives_chain(w.cols, th, length, int(rng.poisson(negatives_per)), repeat)
        w.maybe_flush()


def _state_keys(path: Path) -> set[bytes]:
    states = pq.read_table(path, columns=["state_pp", "label"])
    keep = pa.compute.is_in(states.column("label"), pa.array(["positive", "negative"]))
    return {s.encode() for s in states.filter(keep).column("state_pp").unique().to_pylist()}


def _positive_theorems(path: Path) -> set[str]:
    t = pq.read_table(path, columns=["theorem_name", "label"])
    t = t.filter(pa.compute.equal(t.column("label"), "positive"))
    return set(t.column("theorem_name").unique().to_pylist())


def _dump_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _write_lists(rng, tmp: Path, index: TheoremPool, traj_names: set[str],
                 scale: float) -> tuple[list[str], list[str]]:
    """theorem_index.json (with whitespace twins) and held_out/train_eval.json.

    Returns the train_eval names and the eval-run names: both are held out of every
    training input, base tactic pairs included.
    """
    entries = list(zip(index.names, index.statements))
    names = set(index.names)
    twins = []
    n_twins = _n(WHITESPACE_TWINS, scale, 5)
    traj_positions = [i for i, n in enumerate(index.names) if n in traj_names]
    picks = [traj_positions[0]] + list(rng.choice(len(entries), n_twins - 1, replace=False))
    for i in picks:
        name, statement = entries[int(i)]
        twin = f"{name}'"
        if twin in names:
            continue
        names.add(twin)
        twins.append((twin, _whitespace_variant(statement, rng)))
    full = entries + twins
    order = rng.permutation(len(full))
    _dump_json(tmp / "theorem_index.json",
               {"theorems": [{"name": full[i][0], "statement": full[i][1]} for i in order]})

    twin_bases = {t[0][:-1] for t in twins}
    clean = [i for i, n in enumerate(index.names) if n not in traj_names and n not in twin_bases]
    clean = [clean[i] for i in rng.permutation(len(clean))]
    n_train_eval = _n(TRAIN_EVAL, scale, 10)
    train_eval = clean[:n_train_eval]
    _dump_json(tmp / "held_out" / "train_eval.json",
               {"theorems": [{"name": index.names[i], "statement": index.statements[i]} for i in train_eval]})
    return ([index.names[i] for i in train_eval],
            [index.names[i] for i in clean[n_train_eval:n_train_eval + EVAL_THEOREMS]])


def _write_eval_runs(rng, searcher: Searcher, tmp: Path, index: TheoremPool, eval_names: list[str]) -> None:
    """LLM-only and LLM+EBM runs over the same theorems: 83 ran, 39 vs 49 proved, no regressions."""
    statements = dict(zip(index.names, index.statements))
    ran = eval_names[:EVAL_RAN]
    shared_depths = [1] * 25 + [2] * 7 + [3] * 4 + [4] * 2 + [6]
    exclusive = [(8, 270), (8, 181), (1, 40), (1, 35), (2, 60), (2, 75), (3, 90), (1, 30), (2, 55), (4, 120)]
    plan = {}  # theorem -> (depth, nodes) per config
    for k, name in enumerate(ran):
        if k < len(shared_depths):
            d = shared_depths[k]
            plan[name] = {"llm_only": (d, 20 + 15 * d), "ebm90": (d, 18 + 12 * d)}
        elif k < len(shared_depths) + len(exclusive):
            d, nodes = exclusive[k - len(shared_depths)]
            plan[name] = {"llm_only": (None, 300), "ebm90": (d, nodes)}
        else:
            plan[name] = {"llm_only": (None, 300), "ebm90": (None, 300)}
    (tmp / "eval").mkdir()
    for config, ebm in (("llm_only", False), ("ebm90", True)):
        cols = Columns.empty()
        for name in ran:
            depth, nodes = plan[name][config]
            th = TheoremModel(name, statements[name], salt=_stable_salt(name), pool_size=60,
                              proof_depth=depth or 1, difficulty=0.0)
            while True:  # a proof of exactly the planned depth needs a deep-enough tree
                mark = len(cols.state_id)
                searcher.search(cols, th, nodes, depth is not None, ebm, False, 0, [0, 0.0])
                got = _last_proof_depth(cols, mark)
                if depth is None or got == depth:
                    break
                for f in TRAJECTORY.names:
                    del getattr(cols, f)[mark:]
        pq.write_table(cols.table(), tmp / "eval" / f"eval_clean_100_{config}.parquet", **PARQUET_OPTIONS)


def _last_proof_depth(cols: Columns, start: int) -> int | None:
    for i in range(start, len(cols.state_id)):
        if cols.is_proof_complete[i]:
            return cols.depth_from_root[i]
    return None


def _stable_salt(name: str) -> int:
    return int.from_bytes(name.encode("utf-8")[:7].ljust(7, b"\0"), "little") + len(name)


def _write_leandojo(rng, tmp: Path, index: TheoremPool, traj_names: set[str], held_out: set[str],
                    scale: float) -> int:
    """LeanDojo Benchmark 4 shape: chained traced tactics of Mathlib-style theorems.

    A few trajectory theorems recur here (as Mathlib theorems recur in searches); held-out
    and eval theorems never do.
    """
    want = _n(BASE_TACTICS, scale, 50)
    text = LeanText(rng)
    candidates = [i for i, n in enumerate(index.names) if n not in traj_names and n not in held_out]
    overlap = [i for i, n in enumerate(index.names) if n in traj_names]
    order = [candidates[i] for i in rng.permutation(len(candidates))]
    extra = [overlap[i] for i in rng.permutation(len(overlap))[: max(1, len(overlap) // 100)]]
    theorems = []
    total = 0
    commit = "29dcec074de168ac2bf835a77ef68bbe069194c5"
    for k, i in enumerate(extra + order):
        if total >= want:
            break
        name, statement = index.names[i], index.statements[i]
        steps = int(min(12, 1 + rng.geometric(0.25)))
        salt = int(rng.integers(1, 1 << 62))
        states = [text.root(statement)] + [text.derived(statement, 3_000_000 + j, salt) for j in range(1, steps)]
        states.append("no goals")
        tactics = [text.tactic() for _ in range(steps)]
        line = int(rng.integers(10, 3000))
        ns = name.split(".")[0] if "." in name else "Workbook"
        theorems.append({
            "url": "https://github.com/leanprover-community/mathlib4",
            "commit": commit,
            "file_path": f"Mathlib/{ns}/Basic.lean",
            "full_name": name,
            "start": [line, 1],
            "end": [line + steps + 1, 20],
            "traced_tactics": [
                {"tactic": t, "annotated_tactic": [t, []], "state_before": states[j], "state_after": states[j + 1]}
                for j, t in enumerate(tactics)
            ],
        })
        total += steps
    _dump_json(tmp / "leandojo" / "benchmark4.json", theorems)
    return total
