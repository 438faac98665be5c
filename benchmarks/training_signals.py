"""Preference pairs and value targets: what writing them costs a cold build.

    python benchmarks/training_signals.py --before CHECKOUT [--data-root DIR | --scale 1] [--repeat 3] [--json]

Without ``--data-root`` it writes a replica first (``prover-data synth --scale S --seed 0``).

1. **Build time.** ``prover-data build-manifest iter_4`` (cold, ``--force``, a fresh
   process each) with this checkout, which writes ``preferences_*`` and ``values_*``, and
   with ``CHECKOUT`` (a checkout of the code before them, run with the same interpreter),
   alternated ``--repeat`` times; best of each, and the ratio.
2. **What they hold.** The rows of every output of this checkout's build, against the
   outputs both builds share (same bytes when the labels are the same).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.false_negatives import timed_build  # noqa: E402  (the same cold build in a fresh process)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, required=True, help="checkout of the code before the two outputs")
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
        manifest = REPO / "manifests" / "iter_4.toml"
        runs: dict[str, list[tuple[float, float]]] = {"with": [], "before": []}
        for _ in range(args.repeat):  # alternated, so the machine's drift hits both alike
            runs["with"].append(timed_build(manifest, root, work / "with", REPO))
            runs["before"].append(timed_build(args.before / "manifests" / "iter_4.toml", root, work / "before",
                                              args.before))
        best = {k: min(v) for k, v in runs.items()}
        lock = json.loads((work / "with" / "iter_4" / "lock.json").read_text())
        old = json.loads((work / "before" / "iter_4" / "lock.json").read_text())
        rows = {name: o["rows"] for name, o in lock["outputs"].items() if o["rows"] is not None}
        same = {name: _digest(work / "with" / "iter_4" / o["file"]) == _digest(work / "before" / "iter_4" / o["file"])
                for name, o in old["outputs"].items() if o["rows"] is not None}
    doc = {
        "data_root": str(args.data_root or f"replica scale {args.scale}"),
        "seconds": {k: round(v[0], 2) for k, v in best.items()},
        "peak_rss_gib": {k: round(v[1], 2) for k, v in best.items()},
        "all_seconds": {k: [round(s, 2) for s, _ in v] for k, v in runs.items()},
        "ratio": round(best["with"][0] / best["before"][0], 3),
        "rows": rows,
        "shared_outputs_byte_identical": same,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"cold build, best of {args.repeat}: with the two outputs {doc['seconds']['with']} s "
          f"({doc['peak_rss_gib']['with']} GiB), before them {doc['seconds']['before']} s "
          f"({doc['peak_rss_gib']['before']} GiB): {doc['ratio']}x")
    for name, n in rows.items():
        print(f"  {name:>20}: {n:>10,} rows" + ("" if name not in same else
                                                 f"   (same bytes as before: {'yes' if same[name] else 'no'})"))


def _digest(path: Path) -> str | None:
    return hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else None


if __name__ == "__main__":
    main()
