"""The certificate corpus of a manifest: proofs derived, deduplicated, split, written.

Where certificates come from:

* **Trajectories.** Every completing node (``is_proof_complete``) of a trajectory file
  is the end of one proof; ``sql/60_proof_steps.sql`` walks its parent links to the
  root. Step k is (state of path node k, tactic that leads to node k + 1). Files in
  ``filters.own_state_sources`` hold no search tree and give no proofs.
* **Base tactic pairs** (LeanDojo traced tactics, ``certificates.include_base_pairs``).
  A theorem's traced tactics, in order, are a proof when they chain: the state after
  each tactic is the state before the next, and the state after the last is ``no
  goals``. Otherwise (a tactic inside a nested ``by`` or a focused case, whose states
  do not chain) the trace is not a linear proof and is left out and counted. The
  base subsample of the SFT pairs does not apply: every chained proof is kept.

Theorem statements come from ``sources.theorem_index`` by exact name. With
``certificates.states = "first"`` only the first step carries its goal state.

A proof is left out, and counted under its reason, when a state cannot be written
losslessly (``parse_state``), a tactic is empty or contains ``sorry``, its path does
not reach a root, or the theorem name holds whitespace. Identical certificates (a
proof found again in a later iteration) are kept once.

The split is by theorem (all certificates of a theorem are train or all are val) and
stratified by proof type (``certificates.stratify_by``): the *first tactic family*
(first word of the first tactic, without a trailing ``!`` or ``?``) or the *source*
(file stem, or ``base``) of the theorem's primary certificate (first by manifest file
order, then by text). Each stratum gets its share of val theorems (floor of
``val_fraction`` x its size, the rest of round(val_fraction x all) given to strata
with the largest remainders), and within a stratum the theorems with the lowest
``split_bucket(seed, stratum:name)`` go to val. So the split depends on the set of
proofs and the seed only, never on input order. Unlike ``theorem_split`` (one
theorem's bucket alone decides it) a stratified split can move a theorem near its
stratum's quota when proofs are added; the certificate model is trained from scratch
on each corpus, so stability across corpora is not needed here.

Files are ordered by (theorem name, text): byte-identical for the same inputs.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prover_data.atomic import atomic_dir, exclusive, recover
from prover_data.certificates.grammar import Certificate, Step, encode, parse_state, validate_certificate
from prover_data.identity import bytes_digest, split_bucket
from prover_data.manifest import Manifest

FILES = ("training.txt", "train.txt", "val.txt")
BASE_SOURCE = "base"
LEANDOJO_DONE = "no goals"
REPORTED_CONTEXTS = (256, 512, 1024, 2048)


@dataclass(frozen=True)
class Entry:
    """One derived certificate and what the split needs to know of it."""

    text: str
    theorem: str
    source: str  # trajectory file stem, or "base"
    order: int  # manifest file order; base pairs come after every trajectory file
    first_tactic: str
    steps: int


@dataclass
class Derivation:
    entries: list[Entry] = field(default_factory=list)
    found: Counter = field(default_factory=Counter)  # source -> proofs found
    dropped: Counter = field(default_factory=Counter)  # reason -> proofs left out


def tactic_family(tactic: str) -> str:
    """``nlinarith [sq_nonneg (a - b)]`` -> ``nlinarith``; ``by_contra! h`` -> ``by_contra``."""
    word = tactic.split(maxsplit=1)[0] if tactic.split() else ""
    return word.rstrip("!?") or word


def _proof(theorem: str, statement: str | None, states: list[str], tactics: list[str],
           every_step: bool) -> Certificate | str:
    """The certificate of one proof, or the reason it is left out."""
    if not theorem or any(c.isspace() for c in theorem):
        return "theorem name with whitespace"
    steps = []
    for k, (state, tactic) in enumerate(zip(states, tactics, strict=True)):
        tactic = tactic.strip()
        if not tactic:
            return "empty tactic"
        if "sorry" in tactic:
            return "sorry"
        goals = parse_state(state) if k == 0 or every_step else ()
        if goals is None:
            return "state not in Lean's goal layout"
        steps.append(Step(goals, tactic))
    return Certificate(theorem, statement or None, tuple(steps))


def _add(d: Derivation, source: str, order: int, result: Certificate | str) -> None:
    d.found[source] += 1
    if isinstance(result, str):
        d.dropped[result] += 1
        return
    text = encode(result)
    errors = validate_certificate(text)
    if errors:  # encode and the validator disagree: a bug here, not bad input
        raise RuntimeError(f"derived certificate of {result.theorem} is invalid: {errors[0]}\n{text}")
    d.entries.append(Entry(text, result.theorem, source, order, tactic_family(result.steps[0].tactic),
                           len(result.steps)))


def derive(manifest: Manifest, statements: dict[str, str], base_pairs=None) -> Derivation:
    """Every certificate of the manifest's inputs, before dedup and split.

    ``base_pairs`` is ``inputs.leandojo.read_leandojo``'s table (or None for no base pairs).
    """
    from prover_data.views import connect

    d = Derivation()
    every_step = manifest.certificates.states == "every_step"
    known = None if base_pairs is None else base_pairs.select(["theorem_name", "tactic_index", "state_pp", "tactic"])
    con = connect(manifest, base_pairs=known, embedding_tier=False)
    rows = con.sql(
        "SELECT source, file_order, theorem_name, search, proof_end, state_pp, tactic, complete "
        "FROM proof_steps ORDER BY file_order, theorem_name, search, proof_end, step"
    ).fetchall()
    con.close()
    for (source, order, theorem, *_), steps in itertools.groupby(rows, key=lambda r: r[:5]):
        steps = list(steps)
        if not all(r[7] for r in steps):
            d.found[source] += 1
            d.dropped["path does not reach the root"] += 1
            continue
        result = _proof(theorem, statements.get(theorem), [r[5] for r in steps], [r[6] for r in steps],
                        every_step)
        _add(d, source, order, result)

    if base_pairs is not None:
        n_files = len(manifest.trajectory_paths())
        traces: dict[tuple[str, str], list] = defaultdict(list)
        for row in base_pairs.select(["theorem_name", "file_path", "tactic_index", "state_pp", "tactic",
                                      "state_after"]).to_pylist():
            traces[(row["theorem_name"], row["file_path"])].append(row)
        for (theorem, _), trace in sorted(traces.items()):
            trace.sort(key=lambda r: r["tactic_index"])
            chained = all(a["state_after"] == b["state_pp"] for a, b in zip(trace, trace[1:]))
            if not chained:
                d.found[BASE_SOURCE] += 1
                d.dropped["base trace does not chain"] += 1
            elif trace[-1]["state_after"] != LEANDOJO_DONE:
                d.found[BASE_SOURCE] += 1
                d.dropped["base trace leaves goals open"] += 1
            else:
                result = _proof(theorem, statements.get(theorem), [r["state_pp"] for r in trace],
                                [r["tactic"] for r in trace], every_step)
                _add(d, BASE_SOURCE, n_files, result)
    return d


def dedup(entries: list[Entry]) -> tuple[list[Entry], int]:
    """Identical texts kept once (first by manifest order); the number removed."""
    kept: dict[str, Entry] = {}
    for e in sorted(entries, key=lambda e: (e.order, e.text)):
        kept.setdefault(e.text, e)
    return list(kept.values()), len(entries) - len(kept)


def stratified_split(entries: list[Entry], by: str, val_fraction: float, seed: int) -> tuple[dict[str, str], dict[str, str]]:
    """``(theorem -> 'train'|'val', theorem -> stratum)``; see the module docstring."""
    primary: dict[str, Entry] = {}
    for e in sorted(entries, key=lambda e: (e.order, e.text)):
        primary.setdefault(e.theorem, e)
    stratum = {t: (e.first_tactic if by == "first_tactic" else e.source) for t, e in primary.items()}
    members: dict[str, list[str]] = defaultdict(list)
    for t, s in stratum.items():
        members[s].append(t)
    want = round(val_fraction * len(stratum))
    quota = {s: math.floor(val_fraction * len(ts)) for s, ts in members.items()}
    rest = sorted(members, key=lambda s: (-(val_fraction * len(members[s]) - quota[s]),
                                          split_bucket(seed, f"stratum:{s}"), s))
    for s in rest[:max(0, want - sum(quota.values()))]:
        quota[s] += 1
    split = {}
    for s, ts in members.items():
        ranked = sorted(ts, key=lambda t: (split_bucket(seed, f"{s}:{t}"), t))
        for i, t in enumerate(ranked):
            split[t] = "val" if i < quota[s] else "train"
    return split, stratum


# --------------------------------------------------------------------------- export


def default_out(manifest: Manifest, build_root: str | Path = "build") -> Path:
    """``build/NAME-certificates``: beside, never inside, the build directory."""
    return Path(build_root) / f"{manifest.name}-certificates"


def read_statements(manifest: Manifest) -> dict[str, str]:
    from prover_data.inputs.theorem_lists import read_theorem_list

    if manifest.sources.theorem_index is None:
        return {}
    table = read_theorem_list(manifest.resolve(manifest.sources.theorem_index))
    return dict(zip(table.column("name").to_pylist(), table.column("statement").to_pylist()))


def _check_inputs(manifest: Manifest):
    """Validate the inputs the corpus reads; return the base pairs table (or None)."""
    from prover_data.errors import InputError
    from prover_data.inputs.leandojo import read_leandojo
    from prover_data.inputs.trajectories import check_trajectory_file

    problems = []
    for p in manifest.trajectory_paths():
        try:
            check_trajectory_file(p, manifest.sources.repeated_searches)
        except InputError as e:
            problems.extend(e.problems)
    base = None
    if manifest.certificates.include_base_pairs and manifest.sources.base_pairs is not None:
        try:
            base = read_leandojo(manifest.resolve(manifest.sources.base_pairs.path))
        except InputError as e:
            problems.extend(e.problems)
    if problems:
        raise InputError(problems)
    return base


def export(manifest: Manifest, out: str | Path, *, context_length: int | None = None) -> dict:
    """Derive, split and write the corpus into ``out`` (replaced whole); return its stats."""
    from prover_data.build.lock import input_entries
    from prover_data.certificates.packing import pack

    out = Path(out)
    cfg = manifest.certificates
    base = _check_inputs(manifest)
    derivation = derive(manifest, read_statements(manifest), base)
    entries, duplicates = dedup(derivation.entries)
    split, stratum = stratified_split(entries, cfg.stratify_by, cfg.val_fraction, cfg.seed)
    entries.sort(key=lambda e: (e.theorem, e.text))
    parts = {
        "training.txt": entries,
        "train.txt": [e for e in entries if split[e.theorem] == "train"],
        "val.txt": [e for e in entries if split[e.theorem] == "val"],
    }
    blobs = {name: "".join(e.text for e in es).encode("utf-8") for name, es in parts.items()}

    context = context_length or manifest.train.chargpt.context_length
    lengths = np.array([len(e.text.encode("utf-8")) for e in entries], dtype=np.int64)
    packing = {}
    for name in ("train", "val"):
        packed = pack([e.text.encode("utf-8") for e in parts[f"{name}.txt"]], context)
        packing[name] = packed.summary()

    def strata(es: list[Entry]) -> dict[str, int]:
        return dict(sorted(Counter(stratum[e.theorem] for e in es).items()))

    wanted_roles = {"trajectory", "base_pairs", "theorem_index"}
    stats = {
        "manifest": {"name": manifest.name, "hash": manifest.digest()},
        "inputs": [{"role": i.role, "path": i.path, "hash": i.hash}
                   for i in input_entries(manifest) if i.role in wanted_roles],
        "settings": {"val_fraction": cfg.val_fraction, "seed": cfg.seed, "stratify_by": cfg.stratify_by,
                     "include_base_pairs": cfg.include_base_pairs, "states": cfg.states},
        "proofs_found": dict(sorted(derivation.found.items())),
        "left_out": dict(sorted(derivation.dropped.items())),
        "duplicates": duplicates,
        "certificates": {name.removesuffix(".txt"): len(es) for name, es in parts.items()},
        "theorems": {s: sum(1 for v in split.values() if v == s) for s in ("train", "val")},
        "sources": dict(sorted(Counter(e.source for e in entries).items())),
        "strata": {"by": cfg.stratify_by, "train": strata(parts["train.txt"]), "val": strata(parts["val.txt"])},
        "steps": {"total": sum(e.steps for e in entries), "max": max((e.steps for e in entries), default=0)},
        "bytes": {"p50": _quantile(lengths, 0.5), "p90": _quantile(lengths, 0.9),
                  "max": int(lengths.max(initial=0)),
                  "over_context": {str(c): int((lengths > c + 1).sum()) for c in REPORTED_CONTEXTS}},
        "packing": {"context_length": context, **packing},
        "files": {name: {"bytes": len(b), "chars": len(b.decode("utf-8")), "hash": bytes_digest(b)}
                  for name, b in blobs.items()},
    }
    with exclusive(out.parent / f".{out.name}.lock", what=f"certificates {out}"):
        recover(out)
        with atomic_dir(out) as tmp:
            for name, b in blobs.items():
                (tmp / name).write_bytes(b)
            (tmp / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return stats


def _quantile(values: np.ndarray, q: float) -> int:
    return int(np.quantile(values, q, method="lower")) if len(values) else 0


def read_corpus(directory: str | Path, name: str) -> list[str]:
    """The certificates of ``directory/name`` (``train.txt``, ``val.txt``), each with its @E line."""
    from prover_data.certificates.grammar import split_corpus
    from prover_data.errors import InputError

    path = Path(directory) / name
    if not path.is_file():
        raise InputError.one(str(path), "no such file (it is written by prover-data export-certificates NAME)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError.one(str(path), f"not UTF-8 (invalid byte at offset {e.start})") from None
    return split_corpus(text)
