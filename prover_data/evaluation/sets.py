"""Eval sets that cannot meet the training data, and the audit that proves it.

The report's first eval sample was contaminated: 28 of its 100 theorems had been
searched during training, so the prover had seen their proof states. Here an eval set
is sampled from a pool (the theorem index) *after* removing

* every theorem that appears in any of the manifest's trajectory files (whether the
  search proved it or not: its states were embedded and scored either way),
* every theorem with base tactic pairs in the SFT data (``sft_train`` / ``sft_val``
  hold them under ``source = 'base'``; a model taught a theorem's own tactics has seen
  it),
* every theorem of the named held-out lists (``exclude_held_out``, e.g. the 198
  ``train_eval`` theorems used to measure training progress),
* every theorem whose statement equals, up to whitespace, the statement of any theorem
  removed above or of any training theorem (``identity.statement_hash``): a copy of a
  theorem under another name, or re-indented, is the same problem to a prover.

A theorem removed for several reasons is counted under the first (in the order
above), so the counts and the clean pool add up to the pool.

Trajectories and base pairs name theorems but do not state them, so a training
theorem's statement is the one the theorem index (or a held-out list) gives for its
name. Training theorems that no list states can only be matched by name; their number
is reported (``training_without_statement``).

Sampling is keyed by content: each clean theorem is ranked by
``identity.split_bucket(seed, name)`` (ties by name) and the first N are taken, so the
sample depends on the seed and the set of names only, never on file order, and a
larger N extends a smaller one. Two clean theorems with one statement count once (the
better-ranked is kept), so an eval set never holds the same problem twice.

``audit`` checks any theorem list against training theorems by name and by normalized
statement; ``audit_or_raise`` turns overlaps into an ``InputError`` naming each one.
``BuildEvalSets`` does both inside ``build-manifest``. The report line compares the
sets' median hypothesis count with the held-out lists' (``hypotheses``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from prover_data.atomic import atomic_write_text
from prover_data.build.files import Build, eval_file, output_file
from prover_data.errors import InputError, Problem
from prover_data.evaluation.hypotheses import median_hypotheses
from prover_data.identity import split_bucket, statement_hash
from prover_data.manifest import EvalSet, Manifest

# Where a training theorem was found (``training_theorems`` keys); other keys are allowed.
TRAJECTORIES = "trajectories"
BASE_PAIRS = "base_pairs"
VALUE_TARGETS = "value_targets"
# Build outputs whose ``theorem_name`` column is training data.
TRAINING_OUTPUTS = ("sft_train", "sft_val", "contrastive_train", "contrastive_val", "preferences_train",
                    "preferences_val")
TWIN = "statement_twin"
_ORIGIN_TEXT = {
    TRAJECTORIES: "theorems appearing in any trajectory parquet",
    BASE_PAIRS: "theorems with base tactic pairs in the SFT data",
    VALUE_TARGETS: "theorems whose states are value targets",
}


def _number(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


# --------------------------------------------------------------------------- training theorems


def training_theorems(con, build: Build | None = None) -> dict[str, frozenset[str]]:
    """Training theorem names by where they were found, from a ``views.connect`` connection.

    ``trajectories``: every theorem of every trajectory file; ``base_pairs``: every
    theorem with base pairs in the SFT data (train and val); ``value_targets``: every
    theorem with a record whose state is a value target (the values outputs carry
    states, not theorems, so their theorems are found through the records); and, when
    ``build`` is given, each of its ``TRAINING_OUTPUTS`` present (``output_theorems``).
    """

    def names(sql: str) -> frozenset[str]:
        return frozenset(r[0] for r in con.execute(sql).fetchall())

    out = {
        TRAJECTORIES: names("SELECT DISTINCT theorem_name FROM trajectories"),
        BASE_PAIRS: names("SELECT DISTINCT theorem_name FROM base_pairs"),
        VALUE_TARGETS: names("SELECT DISTINCT theorem_name FROM trajectory_records "
                             "SEMI JOIN value_target_figures USING (state_hash)"),
    }
    if build is not None:
        out.update(output_theorems(build))
    return out


def output_theorems(build: Build) -> dict[str, frozenset[str]]:
    """Theorem names of each training output of ``build`` present, by its file name."""
    import pyarrow.parquet as pq

    out = {}
    for name in TRAINING_OUTPUTS:
        path = build.output(name)
        if path.is_file():
            col = pq.read_table(path, columns=["theorem_name"]).column(0)
            out[output_file(name)] = frozenset(pc.unique(col).to_pylist())
    return out


def _by_origin(training) -> dict[str, frozenset[str]]:
    """Training names as {origin: names}; a plain set or Arrow array is one origin."""
    if isinstance(training, Mapping):
        return {k: frozenset(_names(v)) for k, v in training.items()}
    return {"training": frozenset(_names(training))}


def _names(values) -> list[str]:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.to_pylist()
    return list(values)


def _statements(table_or_map) -> dict[str, str]:
    if isinstance(table_or_map, pa.Table):
        return dict(zip(table_or_map.column("name").to_pylist(), table_or_map.column("statement").to_pylist()))
    return dict(table_or_map)


# --------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class EvalSetResult:
    name: str
    theorems: pa.Table  # name, statement; in sampling-rank order
    stats: dict  # pool, counts excluded by reason, clean pool, medians; see build_eval_set


def _rank(seed: int, name: str) -> tuple[float, str]:
    return (split_bucket(seed, name), name)


def build_eval_set(spec: EvalSet, manifest: Manifest, training, *, index: pa.Table | None = None,
                   held_out: Mapping[str, pa.Table] | None = None,
                   hashed: Callable[[str], bytes] | None = None) -> EvalSetResult:
    """Sample ``spec.size`` theorems of ``spec.pool`` disjoint from ``training`` (module docstring).

    ``training`` is ``{origin: names}`` (``training_theorems``) or a plain set / Arrow
    array of names. ``index`` and ``held_out`` pass lists already read; otherwise they
    are read from the manifest's files. ``hashed`` (``statement_hasher()``) shares its
    memo of statement hashes with the caller's other sets and audit. Raises
    ``InputError`` (key ``eval.sets[i].size``) when the clean pool is smaller than the set.
    """
    from prover_data.inputs.theorem_lists import read_theorem_list

    lists = dict(held_out or {})

    def held(name: str) -> pa.Table:
        if name not in lists:
            lists[name] = read_theorem_list(manifest.held_out_paths()[name])
        return lists[name]

    if index is None and manifest.sources.theorem_index is not None:
        index = read_theorem_list(manifest.resolve(manifest.sources.theorem_index))
    if spec.pool == "theorem_index":
        pool, pool_path = index, manifest.resolve(manifest.sources.theorem_index)
    else:
        pool, pool_path = held(spec.pool), manifest.held_out_paths()[spec.pool]
    origins = _by_origin(training)

    # Statements of training theorems (by name) come from the index and the held-out lists.
    known = _known_statements(index, {n: held(n) for n in manifest.sources.held_out})
    excluded_lists = {n: held(n) for n in spec.exclude_held_out}

    names = pool.column("name").to_pylist()
    statements = pool.column("statement").to_pylist()
    reason = _excluded_by_name(names, origins, excluded_lists)
    hashed = hashed or statement_hasher()
    hashes = [hashed(s) for s in statements]
    all_training = frozenset().union(*origins.values()) if origins else frozenset()
    banned, without_statement = _banned_statements(all_training, known, excluded_lists, hashed)
    banned.update(hashes[i] for i in reason)
    for i, h in enumerate(hashes):
        if i not in reason and h in banned:
            reason[i] = TWIN

    clean = sorted((i for i in range(len(names)) if i not in reason), key=lambda i: _rank(spec.seed, names[i]))
    chosen, distinct = _first_distinct(clean, hashes, spec.size)
    if len(chosen) < spec.size:
        k = next((j for j, s in enumerate(manifest.eval.sets) if s.name == spec.name), 0)
        raise InputError.one(
            str(manifest.path),
            f"eval set '{spec.name}' wants {spec.size:,} theorems but the clean pool of {pool_path} has only "
            f"{distinct:,} distinct statements after excluding training and held-out theorems",
            key=f"eval.sets[{k}].size")

    theorems = pa.table({"name": pa.array([names[i] for i in chosen], pa.string()),
                         "statement": pa.array([statements[i] for i in chosen], pa.string())})
    excluded = {r: 0 for r in [*origins, *(f"held_out:{n}" for n in spec.exclude_held_out), TWIN]}
    for r in reason.values():
        excluded[r] += 1
    stats = {
        "name": spec.name,
        "size": spec.size,
        "seed": spec.seed,
        "pool": spec.pool,
        "pool_file": _relative(pool_path, manifest.root),
        "pool_size": len(names),
        "excluded": excluded,
        "clean_pool": len(clean),
        "clean_distinct_statements": distinct,
        "training_theorems": len(all_training),
        "training_without_statement": without_statement,
        **_hypothesis_stats(theorems, excluded_lists, [statements[i] for i in clean] if not spec.exclude_held_out
                             else None),
    }
    return EvalSetResult(spec.name, theorems, stats)


def _excluded_by_name(names: list[str], origins: Mapping[str, frozenset[str]],
                      excluded_lists: Mapping[str, pa.Table]) -> dict[int, str]:
    """{pool row: reason} for rows named in training or in an excluded held-out list (first reason wins)."""
    reason: dict[int, str] = {}
    for origin, members in origins.items():
        for i, n in enumerate(names):
            if i not in reason and n in members:
                reason[i] = origin
    for list_name, table in excluded_lists.items():
        members = set(table.column("name").to_pylist())
        for i, n in enumerate(names):
            if i not in reason and n in members:
                reason[i] = f"held_out:{list_name}"
    return reason


def statement_hasher() -> Callable[[str], bytes]:
    """``statement_hash`` with a memo: training statements mostly repeat pool statements,
    and a build's eval sets and audit read the same lists, so each is hashed once."""
    memo: dict[str, bytes] = {}

    def hashed(statement: str) -> bytes:
        h = memo.get(statement)
        if h is None:
            h = memo[statement] = statement_hash(statement)
        return h

    return hashed


def _banned_statements(training: frozenset[str], known: Mapping[str, str], excluded_lists: Mapping[str, pa.Table],
                       hashed: Callable[[str], bytes]) -> tuple[set[bytes], int]:
    """(hashes of the statements of training theorems and excluded lists, training theorems no list states)."""
    banned: set[bytes] = set()
    without_statement = 0
    for n in training:
        if n in known:
            banned.add(hashed(known[n]))
        else:
            without_statement += 1
    for table in excluded_lists.values():
        banned.update(hashed(s) for s in table.column("statement").to_pylist())
    return banned, without_statement


def _first_distinct(ranked: list[int], hashes: list[bytes], size: int) -> tuple[list[int], int]:
    """(the first ``size`` rows of ``ranked`` with a statement not seen before, distinct statements in all)."""
    chosen: list[int] = []
    seen: set[bytes] = set()
    distinct = 0
    for i in ranked:
        if hashes[i] in seen:
            continue
        seen.add(hashes[i])
        distinct += 1
        if len(chosen) < size:
            chosen.append(i)
    return chosen, distinct


def _hypothesis_stats(theorems: pa.Table, excluded_lists: Mapping[str, pa.Table],
                       clean_statements: list[str] | None) -> dict:
    """The set's median hypothesis count next to the held-out lists' (or, without any, the clean pool's)."""
    return {
        "median_hypotheses": median_hypotheses(theorems.column("statement").to_pylist()),
        "median_hypotheses_held_out": {n: median_hypotheses(t.column("statement").to_pylist())
                                       for n, t in excluded_lists.items()},
        # the clean pool is the comparison only when no held-out list is (it costs a pass over the pool)
        "median_hypotheses_clean_pool": None if clean_statements is None else median_hypotheses(clean_statements),
    }


def _relative(path: Path, root: Path) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:  # another drive
        return str(path)


def report_lines(result: EvalSetResult) -> list[str]:
    """The report's Markdown lines for one eval set (as in the iteration report)."""
    s = result.stats
    out = [f"{result.theorems.num_rows:,} theorems sampled from `{s['pool_file']}` (seed {s['seed']}), "
           "**disjoint from all training data**:"]
    for reason, n in s["excluded"].items():
        if n == 0 and reason not in (TRAJECTORIES, TWIN) and not reason.startswith("held_out:"):
            continue
        if reason in _ORIGIN_TEXT:
            out.append(f"- Excluded {n:,} {_ORIGIN_TEXT[reason]}")
        elif reason.startswith("held_out:"):
            out.append(f"- Excluded {n:,} {reason.split(':', 1)[1]} theorems")
        elif reason == TWIN:
            out.append(f"- Excluded {n:,} theorems whose statement equals, up to whitespace, that of an excluded "
                       "or training theorem")
        else:
            out.append(f"- Excluded {n:,} theorems found in {reason}")
    pool = f"- Clean pool: {s['clean_pool']:,} theorems"
    if s["clean_distinct_statements"] != s["clean_pool"]:
        pool += (f" ({s['clean_distinct_statements']:,} distinct statements; "
                 "theorems sharing a statement are sampled once)")
    out.append(pool)
    held = s["median_hypotheses_held_out"]
    versus = ", ".join(f"{n}: {_number(v)}" for n, v in held.items()) if held else \
        f"clean pool: {_number(s['median_hypotheses_clean_pool'])}"
    out.append(f"- Median hypothesis count: {_number(s['median_hypotheses'])} ({versus})")
    if s["training_without_statement"]:
        out.append(f"- {s['training_without_statement']:,} of {s['training_theorems']:,} training theorems have no "
                   "statement in the theorem index or held-out lists: matched by name only")
    return out


def eval_set_json(theorems: pa.Table) -> str:
    """Theorem-index shape ``{"theorems": [{"name", "statement"}]}``, as BurnQED reads it."""
    doc = {"theorems": [{"name": n, "statement": s} for n, s in
                        zip(theorems.column("name").to_pylist(), theorems.column("statement").to_pylist())]}
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def write_eval_set(result: EvalSetResult, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_text(path, eval_set_json(result.theorems))
    return path


# --------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class Overlap:
    """One theorem of a checked list that meets the training data."""

    source: str  # the list (file) checked
    row: int  # the theorem's index in it
    name: str
    by: str  # "name" or "statement"
    training_name: str  # the training theorem met (the same name, for a name overlap)
    origins: tuple[str, ...]  # where that training theorem was found

    def message(self) -> str:
        where = ", ".join(self.origins)
        if self.by == "name":
            return f"theorem '{self.name}' is training data (found in {where})"
        return (f"theorem '{self.name}' has the same statement, up to whitespace, as training theorem "
                f"'{self.training_name}' (found in {where})")

    def to_dict(self) -> dict:
        return {"source": self.source, "row": self.row, "name": self.name, "by": self.by,
                "training_name": self.training_name, "origins": list(self.origins)}


@dataclass(frozen=True)
class TrainingIndex:
    """The training theorems an audit checks against: by name and by normalized statement.

    Built once per build, then asked about each eval set and list: hashing the
    training statements is most of an audit's work.
    """

    where: dict[str, tuple[str, ...]]  # training name -> origins it was found in
    by_hash: dict[bytes, str]  # statement hash -> first training name (sorted) with it

    @classmethod
    def of(cls, training_names, training_statements,
           hashed: Callable[[str], bytes] = statement_hash) -> "TrainingIndex":
        """``training_names``: ``{origin: names}`` or a plain set / Arrow array of names.
        ``training_statements``: statements by name (a dict, or a table with name and
        statement, e.g. the theorem index); entries of non-training names are ignored.
        ``hashed``: ``statement_hash``, or a ``statement_hasher`` the caller shares.
        """
        where: dict[str, list[str]] = {}
        for origin, members in _by_origin(training_names).items():
            for n in members:
                where.setdefault(n, []).append(origin)
        statements = _statements(training_statements)
        by_hash: dict[bytes, str] = {}
        for n in sorted(where):
            if n in statements:
                by_hash.setdefault(hashed(statements[n]), n)
        return cls({n: tuple(o) for n, o in where.items()}, by_hash)

    def overlaps(self, eval_theorems: pa.Table, *, source: str) -> list[Overlap]:
        """Theorems of ``eval_theorems`` (name, statement) that are training data: by
        name, else by normalized statement (``identity.statement_hash``)."""
        out = []
        names = eval_theorems.column("name").to_pylist()
        stmts = eval_theorems.column("statement").to_pylist()
        for row, (n, s) in enumerate(zip(names, stmts)):
            if n in self.where:
                out.append(Overlap(source, row, n, "name", n, self.where[n]))
                continue
            twin = self.by_hash.get(statement_hash(s))
            if twin is not None:
                out.append(Overlap(source, row, n, "statement", twin, self.where[twin]))
        return out


def audit(eval_theorems: pa.Table, training_names, training_statements, *, source: str) -> list[Overlap]:
    """Theorems of ``eval_theorems`` that are training data (``TrainingIndex``, built for one list)."""
    return TrainingIndex.of(training_names, training_statements).overlaps(eval_theorems, source=source)


def overlap_error(overlaps: list[Overlap]) -> InputError:
    return InputError([Problem(o.source, o.message(), row=o.row, column=o.by, check="eval_contamination")
                       for o in overlaps])


def audit_or_raise(eval_theorems: pa.Table, training_names, training_statements, *, source: str) -> None:
    """``audit``, raising an ``InputError`` that names every overlapping theorem."""
    overlaps = audit(eval_theorems, training_names, training_statements, source=source)
    if overlaps:
        raise overlap_error(overlaps)


# --------------------------------------------------------------------------- inside build-manifest


@dataclass
class BuildEvalSets:
    """The eval sets of a build, in two steps: ``sample`` needs only the training inputs
    (the build runs it on a second thread while it writes the datasets); ``finish``
    writes the sets and audits them and the ``[eval] audit`` lists against the inputs
    and the outputs just written (``sft_*``, ``contrastive_*``). Sets are sampled away
    from the training *inputs* (trajectory and base-pair theorems, a superset of the
    outputs' theorems). Any overlap raises ``InputError`` and the build leaves nothing
    behind. The theorem index and held-out lists are the tables the build read
    (``build.inputs.Inputs``), and each statement is hashed once for all of it.
    """

    manifest: Manifest
    training: dict[str, frozenset[str]]  # training_theorems(con): names by origin
    index: pa.Table | None
    lists: Mapping[str, pa.Table]
    hashed: Callable[[str], bytes] = field(default_factory=statement_hasher)
    results: list[EvalSetResult] = field(default_factory=list)

    def sample(self) -> "BuildEvalSets":
        for spec in self.manifest.eval.sets:
            self.results.append(build_eval_set(spec, self.manifest, self.training, index=self.index,
                                               held_out=self.lists, hashed=self.hashed))
        return self

    def finish(self, staged: Build) -> "EvalSetsWritten | None":
        """Write the sets into ``staged`` and audit them; None when the manifest has no
        eval sets and no audit lists."""
        m = self.manifest
        if not m.eval.sets and not m.eval.audit:
            return None
        training = {**self.training, **output_theorems(staged)}
        checker = TrainingIndex.of(training, _known_statements(self.index, self.lists), self.hashed)
        overlaps: list[Overlap] = []
        for result in self.results:
            path = staged.eval_set(result.name)
            path.parent.mkdir(exist_ok=True)
            write_eval_set(result, path)
            overlaps += checker.overlaps(result.theorems, source=eval_file(result.name))
        for name in m.eval.audit:
            overlaps += checker.overlaps(self.lists[name], source=str(m.held_out_paths()[name]))
        if overlaps:
            raise overlap_error(overlaps)
        return EvalSetsWritten(tuple(self.results), tuple(m.eval.audit))


@dataclass(frozen=True)
class EvalSetsWritten:
    """The eval-sets stage's part of ``stats.json`` and the lock: the sets written, in
    manifest order, and the ``[eval] audit`` lists, all found disjoint from training."""

    results: tuple[EvalSetResult, ...]
    audited: tuple[str, ...]


def _known_statements(index: pa.Table | None, lists: Mapping[str, pa.Table]) -> dict[str, str]:
    """Statements by name: the theorem index first, then the held-out lists."""
    out: dict[str, str] = {}
    for t in ([index] if index is not None else []) + list(lists.values()):
        for n, s in zip(t.column("name").to_pylist(), t.column("statement").to_pylist()):
            out.setdefault(n, s)
    return out


@dataclass(frozen=True)
class AuditReport:
    """``audit_file``'s answer: what was checked against what, and the overlaps."""

    source: str
    theorems: int
    training: dict[str, int]  # origin -> theorems
    training_without_statement: int
    overlaps: list[Overlap] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"source": self.source, "theorems": self.theorems, "training": self.training,
                "training_without_statement": self.training_without_statement,
                "overlaps": [o.to_dict() for o in self.overlaps], "clean": not self.overlaps}


def audit_file(list_path: str | Path, manifest: Manifest, build: Build | None = None) -> AuditReport:
    """Check a theorem list against manifest's training inputs and (when ``build`` is there) outputs."""
    from prover_data.inputs.theorem_lists import read_theorem_list
    from prover_data.inputs.trajectories import check_trajectories
    from prover_data.views import connect

    theorems = read_theorem_list(list_path)
    check_trajectories(manifest)
    con = connect(manifest, embedding_tier=False)
    try:
        training = training_theorems(con, build if build is not None and build.dir.is_dir() else None)
    finally:
        con.close()
    index = read_theorem_list(manifest.resolve(manifest.sources.theorem_index)) \
        if manifest.sources.theorem_index is not None else None
    lists = {n: read_theorem_list(p) for n, p in manifest.held_out_paths().items()}
    statements = _known_statements(index, lists)
    names = frozenset().union(*training.values())
    overlaps = audit(theorems, training, statements, source=str(list_path))
    return AuditReport(str(list_path), theorems.num_rows, {k: len(v) for k, v in training.items()},
                       sum(1 for n in names if n not in statements), overlaps)
