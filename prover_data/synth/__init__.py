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

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.atomic import atomic_dir
from prover_data.schema import TRAJECTORY, TRAJECTORY_12
from prover_data.synth.companions import write_eval_runs, write_leandojo, write_lists
from prover_data.synth.lean_text import LeanText
from prover_data.synth.profiles import (PARQUET_OPTIONS, REPORT_FILES, SORRY_TACTICS, TRAJECTORY_THEOREMS,
                                        FileProfile, scaled)
from prover_data.synth.searches import Columns, Searcher, TheoremModel
from prover_data.synth.theorems import BUNDLED_LISTS, build_index


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


class _FileWriter:
    """Streams one trajectory file in fixed-size chunks, so scale 16 fits in memory."""

    CHUNK = 4 * 65536

    def __init__(self, path: Path, schema: pa.Schema = TRAJECTORY):
        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema, **PARQUET_OPTIONS_WRITER)
        self.cols = Columns.empty()
        self.summary = dict(rows=0, positive=0, negative=0, unknown=0)
        self.theorems: set[str] = set()
        self.proved: set[str] = set()
        self.states: set[bytes] = set()

    def maybe_flush(self, force: bool = False) -> None:
        if self.cols.state_id and (force or len(self.cols.state_id) >= self.CHUNK):
            t = self.cols.table(self.schema)
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
             lists_dir: Path = BUNDLED_LISTS, repeated_searches: float = 0.0, proofs_per_search: int = 1,
             schema: int = 14, progress=None) -> SynthSummary:
    """Write a replica data root at ``out`` (atomically) and return its summary.

    ``repeated_searches``: the share of each search file's theorems searched a second
    time in the same file, appended after the file's other searches as a resumed run
    appends them (node ids restarting at 0); such a replica needs ``[sources]
    repeated_searches = "split_at_roots"``. 0 writes exactly the default replica.
    ``proofs_per_search``: proofs each proved search holds, labelled as BurnQED labels
    them (only the first one's path positive); 1, the default, is one proof per search,
    as BurnQED wrote before it replayed every proof. ``schema``: 14 columns, or 12 as
    BurnQED's writer wrote before q_value and visits (the trajectory files only).
    Neither changes the trees, states or labels the default replica draws.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    if schema not in (12, 14):
        raise ValueError("schema must be 12 or 14 columns")
    out = Path(out)
    rng = np.random.default_rng(seed)
    searcher = Searcher(rng, LeanText(rng), extra=np.random.default_rng([seed, 1]),
                        proofs_per_search=proofs_per_search)
    index = build_index(rng, scale, lists_dir)
    models, per_file = _theorem_models(rng, index, scale)
    files = _TrajectoryFiles(rng, searcher, models, per_file, scale, repeated_searches,
                             TRAJECTORY if schema == 14 else TRAJECTORY_12)
    with atomic_dir(out) as tmp:
        summaries, all_states = files.write(tmp / "trajectories", progress)
        traj_names = {m.name for m in models}
        train_eval, eval_names = write_lists(rng, tmp, index, traj_names, scale)
        searcher.proofs_per_search = 1  # eval runs replay the report's clean eval: a proof's depth as planned
        write_eval_runs(rng, searcher, tmp, index, eval_names)
        base = write_leandojo(rng, tmp, index, traj_names, set(train_eval) | set(eval_names), scale)
        if copy_lists:
            (tmp / "benchmarks").mkdir()
            for f in sorted(lists_dir.glob("*.json")):
                shutil.copyfile(f, tmp / "benchmarks" / f.name)
            (tmp / "configs").mkdir()
            shutil.copyfile(lists_dir / "search.toml", tmp / "configs" / "search.toml")

    theorems = {models[i].name for ids in per_file for i in ids}
    proved = set()
    for f in REPORT_FILES:
        proved.update(_positive_theorems(out / "trajectories" / f"{f.name}.parquet"))
    return SynthSummary(
        out=str(out), scale=scale, seed=seed, files=tuple(summaries),
        records=sum(s.rows for s in summaries), theorems=len(theorems), proved_theorems=len(proved),
        unique_states=len(all_states), index_theorems=len(index.names), base_tactics=base,
    )


def _theorem_models(rng, index, scale: float) -> tuple[list[TheoremModel], list[np.ndarray]]:
    """The trajectory theorems (what every search of one shares) and the ones each file searches."""
    n_traj = min(scaled(TRAJECTORY_THEOREMS, scale, 20), len(index.names) // 2)
    traj_ids = np.sort(rng.choice(len(index.names), n_traj, replace=False))
    # generate-negatives re-walks theorems searched before (picked while generating);
    # the search files between them cover every trajectory theorem.
    sizes = [0 if f.kind == "negatives" else min(scaled(f.searches, scale), n_traj) for f in REPORT_FILES]
    per_file = _assign(rng, n_traj, sizes)
    appearances = np.bincount(np.concatenate(per_file), minlength=n_traj)
    models = []
    for j, idx in enumerate(traj_ids):
        expected = appearances[j] * 40
        models.append(TheoremModel(
            name=index.names[idx], statement=index.statements[idx], salt=int(rng.integers(1, 1 << 62)),
            pool_size=max(4, int(expected * 0.22)),
            proof_depth=int(min(8, rng.geometric(0.55))), difficulty=float(rng.random()),
        ))
    return models, per_file


class _TrajectoryFiles:
    """The report's 8 files, written in order from one generator (the order is the seed's)."""

    def __init__(self, rng, searcher: Searcher, models: list[TheoremModel], per_file: list[np.ndarray],
                 scale: float, repeated_searches: float, schema: pa.Schema):
        self.rng, self.searcher, self.models, self.per_file = rng, searcher, models, per_file
        self.schema = schema
        self.scale, self.repeated_searches = scale, repeated_searches
        self.sorry_budget = [scaled(SORRY_TACTICS, scale), 0.004]  # [left, chance per proof step]
        self.proved_ids: set[int] = set()
        self.mean_nodes = {f.name: f.rows / f.searches for f in REPORT_FILES}

    def write(self, directory: Path, progress) -> tuple[list[FileSummary], set[bytes]]:
        directory.mkdir()
        summaries, all_states = [], set()
        task = progress.add_task("trajectories", total=len(REPORT_FILES)) if progress else None
        for fi, profile in enumerate(REPORT_FILES):
            w = _FileWriter(directory / f"{profile.name}.parquet", self.schema)
            if profile.kind == "negatives":
                n = min(scaled(profile.searches, self.scale), len(self.models))
                ids = self.per_file[fi] = _pick_rewalked(self.rng, self.per_file[:fi], self.proved_ids, n)
                _negatives_file(self.rng, self.searcher, w, [self.models[i] for i in ids], profile)
                self.proved_ids.update(ids.tolist())
            else:
                self._search_file(fi, profile, w)
            w.close()
            all_states.update(_state_keys(directory / f"{profile.name}.parquet"))
            summaries.append(FileSummary(profile.name, w.summary["rows"], w.summary["positive"],
                                         w.summary["negative"], w.summary["unknown"],
                                         len(w.theorems), len(w.proved)))
            if progress:
                progress.advance(task)
        return summaries, all_states

    def _search_file(self, fi: int, profile: FileProfile, w: "_FileWriter") -> None:
        """One search per theorem of the file; the easiest ``proofs`` of them proved."""
        rng, ids = self.rng, self.per_file[fi]
        n_proofs = min(len(ids), scaled(profile.proofs, self.scale))
        noise = rng.random(len(ids)) * 2.0
        by_difficulty = [i for _, i in sorted(zip((self.models[i].difficulty + e for i, e in zip(ids, noise)), ids))]
        proved_set = set(by_difficulty[:n_proofs])
        self.proved_ids.update(proved_set)
        k_unproved = (len(ids) - 0.6 * n_proofs) / max(1, len(ids) - n_proofs)
        if profile.name == "iter_2":  # whatever sorry budget is left lands on its first proof steps
            self.sorry_budget[1] = 1.0
        for i in ids:
            proved = i in proved_set
            size = self.mean_nodes[profile.name] * float(rng.lognormal(-0.18, 0.6)) * (0.6 if proved else k_unproved)
            path_salt = fi + 1 if rng.random() < 0.65 else 0
            self.searcher.search(w.cols, self.models[i], int(round(size)), proved, profile.ebm, False,
                                 path_salt, self.sorry_budget)
            w.maybe_flush()
        _resumed_searches(rng, self.searcher, w, [self.models[i] for i in ids], profile, self.repeated_searches,
                          self.sorry_budget)
        if profile.name == "iter_2_search":  # a search that ended without labels
            in_file = set(ids.tolist())
            th = next(self.models[i] for i in self.per_file[0] if i not in in_file)
            self.searcher.search(w.cols, th, max(3, int(66 * self.scale)), False, True, True, 0, [0, 0.0])


def _resumed_searches(rng, searcher: Searcher, w: "_FileWriter", theorems: list[TheoremModel],
                      profile: FileProfile, share: float, sorry_budget: list) -> None:
    """Second searches of ``share`` of a file's theorems, appended after its other searches."""
    if share <= 0:
        return
    mean = next(f.rows / f.searches for f in REPORT_FILES if f.name == profile.name)
    picked = rng.choice(len(theorems), int(round(len(theorems) * share)), replace=False)
    for i in sorted(picked.tolist()):
        size = mean * float(rng.lognormal(-0.18, 0.6)) * 0.5
        searcher.search(w.cols, theorems[i], int(round(size)), bool(rng.random() < 0.4), profile.ebm, False,
                        int(rng.integers(0, len(REPORT_FILES) + 1)), sorry_budget)
        w.maybe_flush()


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
