"""Preference pairs and value targets: what writing them costs a cold build.

    python benchmarks/training_signals.py [--before CHECKOUT] [--data-root DIR | --scale 1] [--repeat 3] [--json]

Without ``--data-root`` it writes a replica first (``prover-data synth --scale S --seed 0``).

1. **Build time.** ``prover-data build-manifest iter_4`` (cold, ``--force``, a fresh
   process each) with this checkout, which writes ``preferences_*`` and ``values_*``,
   and with the same code *without them*: a copy of this checkout's ``prover_data/``,
   ``sql/`` and ``manifests/`` with exactly the edits of ``WITHOUT_SIGNALS`` (their four
   files out of ``schema.OUTPUTS``, their two views not materialized, their statistics
   and eval-audit reads gone; each edit must apply once, or the benchmark stops). The
   tree labels and everything else are the same in both, so the ratio is what the two
   outputs cost. With ``--before DIR`` (a checkout of older code, run with the same
   interpreter, its own ``manifests/iter_4.toml``) that build too. Alternated
   ``--repeat`` times (the order reversed every other round); best of each, and the ratios.
2. **What they hold.** The rows of every output of this checkout's build, against the
   outputs the builds share (same bytes when the labels are the same).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.false_negatives import timed_build  # noqa: E402  (the same cold build in a fresh process)


# (file, text, replacement): this checkout without the preference and value outputs.
WITHOUT_SIGNALS = (
    ("prover_data/schema.py", '    "preferences_train": PREFERENCES,\n    "preferences_val": PREFERENCES,\n'
                              '    "values_train": VALUES,\n    "values_val": VALUES,\n', ""),
    ("prover_data/build/stages.py", ',\n                "preference_pairs", "value_target_figures")', ")"),
    ("prover_data/build/stats.py", '_rows(con, "preference_stats")', "[]"),
    ("prover_data/build/stats.py", '{str(r["pairs"]): r["states"] for r in _rows(con, "preference_branching")}', "{}"),
    ("prover_data/build/stats.py", '{r["split"]: r for r in _rows(con, "value_stats")}', "{}"),
    ("prover_data/build/stats.py", '_rows(con, "value_distances")', "[]"),
    ("prover_data/evaluation/sets.py", ', "preferences_train",\n                    "preferences_val")', ")"),
    ("prover_data/evaluation/sets.py", 'names("SELECT DISTINCT theorem_name FROM trajectory_records "\n'
                                       '                             "SEMI JOIN value_target_figures USING (state_hash)")',
     "frozenset()"),
)


def without_signals(dest: Path) -> Path:
    """A copy of this checkout's code with ``WITHOUT_SIGNALS`` applied, each edit exactly once."""
    for top in ("prover_data", "sql", "manifests"):
        shutil.copytree(REPO / top, dest / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for rel, text, replacement in WITHOUT_SIGNALS:
        path = dest / rel
        code = path.read_text(encoding="utf-8")
        if code.count(text) != 1:
            raise SystemExit(f"{rel}: the edit of {text[:60]!r} applies {code.count(text)} times, not once: "
                             "bring WITHOUT_SIGNALS up to date with the code")
        path.write_text(code.replace(text, replacement), encoding="utf-8")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, default=None, help="a checkout of older code, timed as well")
    ap.add_argument("--data-root", type=Path, default=None, help="a replica (prover-data synth) or real inputs")
    ap.add_argument("--scale", type=float, default=1.0, help="the replica's scale when no --data-root is given")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = args.data_root
        if root is None:
            root = work / "replica"
            subprocess.run([sys.executable, "-m", "prover_data", "synth", str(root), "--scale", str(args.scale),
                            "--seed", "0", "--json"], check=True, stdout=subprocess.DEVNULL, cwd=REPO)
        codes = {"with": REPO, "without": without_signals(work / "code_without")}
        if args.before is not None:
            codes["before"] = args.before
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in codes}
        for round_ in range(args.repeat):  # alternated, order reversed every other round: drift hits all alike
            for name, code in (list(codes.items()) if round_ % 2 == 0 else list(codes.items())[::-1]):
                runs[name].append(timed_build(code / "manifests" / "iter_4.toml", root, work / name, code))
        best = {k: min(v) for k, v in runs.items()}
        lock = json.loads((work / "with" / "iter_4" / "lock.json").read_text())
        rows = {name: o["rows"] for name, o in lock["outputs"].items() if o["rows"] is not None}
        same = {}
        for other in (k for k in codes if k != "with"):
            old = json.loads((work / other / "iter_4" / "lock.json").read_text())
            same[other] = {name: _digest(work / "with" / "iter_4" / o["file"])
                           == _digest(work / other / "iter_4" / o["file"])
                           for name, o in old["outputs"].items() if o["rows"] is not None}
    doc = {
        "data_root": str(args.data_root or f"replica scale {args.scale}"),
        "seconds": {k: round(v[0], 2) for k, v in best.items()},
        "peak_rss_gib": {k: round(v[1], 2) for k, v in best.items()},
        "all_seconds": {k: [round(s, 2) for s, _ in v] for k, v in runs.items()},
        "ratio": {k: round(best["with"][0] / best[k][0], 3) for k in codes if k != "with"},
        "rows": rows,
        "shared_outputs_byte_identical": same,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"cold build, best of {args.repeat}: with the two outputs {doc['seconds']['with']} s "
          f"({doc['peak_rss_gib']['with']} GiB; runs {doc['all_seconds']['with']})")
    for k, ratio in doc["ratio"].items():
        print(f"  {k:>8}: {doc['seconds'][k]} s ({doc['peak_rss_gib'][k]} GiB; runs {doc['all_seconds'][k]}): "
              f"with / {k} = {ratio}x")
    for name, n in rows.items():
        shared = ", ".join(f"{k}: {'yes' if v[name] else 'no'}" for k, v in same.items() if name in v)
        print(f"  {name:>20}: {n:>10,} rows" + (f"   (same bytes as {shared})" if shared else ""))


def _digest(path: Path) -> str | None:
    return hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else None


if __name__ == "__main__":
    main()
