"""Reliability figures: bad inputs handled, crash trials clean, concurrency trials clean.

    python benchmarks/reliability.py [--crash-trials 20] [--concurrency-trials 5]

Every trial runs the real ``prover-data`` CLI in a subprocess:
* bad inputs: every case of tests/bad_inputs.py through ``validate`` and, for the
  trajectory cases, through ``build-manifest`` (exit 2, the file and the expected
  phrase in the message, no traceback, no build directory written);
* crashes: ``kill -9`` of ``build-manifest`` at random moments, then the previous build
  must be intact (lock readable, every output's content hash as locked), nothing
  partial visible, and a rerun must finish; the same for ``embed`` (the store's
  previous version readable, the rerun encoding only what is missing);
* concurrency: two builds of one manifest at once, and two ``embed`` processes on
  overlapping states into one store.
Prints a table and writes the same figures as JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bad_inputs import CASES  # noqa: E402
from tests.crash_trials import REPO, concurrent_builds, crash_trials, run  # noqa: E402


def bad_inputs(work: Path) -> tuple[int, int, list[str]]:
    handled, failures = 0, []
    for i, case in enumerate(CASES):
        d = work / f"bad{i:02d}"
        d.mkdir()
        path = case.make(d / f"input{case.suffix}")
        proc = run("validate", str(path))
        ok = proc.returncode == 2 and case.expect in proc.stderr and "Traceback" not in proc.stderr
        if ok and case.suffix == ".parquet" and "embedding" not in case.name:
            m = d / "m.toml"
            m.write_text(f'name = "bad"\n[sources]\ntrajectories = ["{path.name}"]\n')
            b = run("build-manifest", str(m), "--build-dir", str(d / "build"))
            ok = b.returncode == 2 and str(path) in b.stderr and "Traceback" not in b.stderr \
                and not (d / "build" / "bad").exists()
        handled += ok
        if not ok:
            failures.append(case.name)
    return len(CASES), handled, failures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crash-trials", type=int, default=20)
    ap.add_argument("--concurrency-trials", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    manifest = str(REPO / "manifests" / "demo.toml")
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.time()
        tried, handled, failed = bad_inputs(work)
        figures["bad_inputs"] = {"tried": tried, "handled": handled, "failed": failed, "seconds": round(time.time() - t0, 1)}

        t0 = time.time()
        trials = crash_trials(manifest, work / "crash", args.crash_trials, seed=0)
        figures["build_crashes"] = {"trials": len(trials), "clean": sum(t.clean for t in trials),
                                    "killed": sum(t.killed for t in trials),
                                    "seconds": round(time.time() - t0, 1)}

        t0 = time.time()
        (work / "conc").mkdir()
        run("build-manifest", manifest, "--build-dir", str(work / "conc"))
        conc = [concurrent_builds(manifest, work / "conc", wait=i % 2 == 1) for i in range(args.concurrency_trials)]
        figures["build_concurrency"] = {"trials": len(conc), "clean": sum(c.clean for c in conc),
                                        "seconds": round(time.time() - t0, 1)}
        embed = embed_trials(work, args.crash_trials, args.concurrency_trials)
        if embed:
            figures.update(embed)

    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print("| trial | tried | killed while running | clean | seconds |")
    print("|---|---|---|---|---|")
    print(f"| bad inputs (validate + build-manifest) | {tried} | - | {handled} | {figures['bad_inputs']['seconds']} |")
    for key, label in (("build_crashes", "kill -9 during build-manifest"), ("build_concurrency", "two builds at once"),
                       ("embed_crashes", "kill -9 during embed"), ("embed_concurrency", "two embeds, one store")):
        if key in figures:
            f = figures[key]
            print(f"| {label} | {f['trials']} | {f.get('killed', '-')} | {f['clean']} | {f['seconds']} |")
    if failed:
        print("bad inputs not handled:", ", ".join(failed))


def embed_trials(work: Path, crashes: int, concurrency: int) -> dict:
    """kill -9 and concurrency trials of `embed` (see tests/embed_trials.py)."""
    from tests.embed_trials import embed_crash_trials, embed_concurrency_trials

    out = {}
    t0 = time.time()
    trials = embed_crash_trials(work / "embed_crash", crashes, seed=0)
    out["embed_crashes"] = {"trials": len(trials), "clean": sum(t.clean for t in trials),
                            "killed": sum(t.killed for t in trials), "seconds": round(time.time() - t0, 1)}
    t0 = time.time()
    conc = embed_concurrency_trials(work / "embed_conc", concurrency)
    out["embed_concurrency"] = {"trials": len(conc), "clean": sum(c.clean for c in conc),
                                "seconds": round(time.time() - t0, 1)}
    return out


if __name__ == "__main__":
    main()
