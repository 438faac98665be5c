"""Eval-set sampling, audit and comparison cost against reading their inputs.

    python benchmarks/evalsets.py [--scale 1.0] [--seed 0] [--repeat 3] [--data-root DIR] [--json]

Generates a replica (``prover-data synth``) at ``--scale`` (or uses ``--data-root``)
and measures, each in a fresh process, best of ``--repeat``, with the process's peak
RSS:

* baseline: read the theorem index (``inputs.theorem_lists.read_theorem_list``) and the distinct
  theorem names of the 8 trajectory files (DuckDB): the input any eval sampler reads;
* sample: ``evalsets.build_eval_set`` for iter_4's ``eval_clean_100`` given those
  (exclusions, statement normalization of the whole pool, ranking, medians);
* eval build: everything ``prover-data eval build iter_4`` does in-process: validate
  the trajectory files, connect the views (reads the LeanDojo base pairs), collect
  training theorems, sample;
* audit: ``evalsets.audit`` of the real miniF2F test list against the training theorems;
* compare: ``evalcompare.read_run`` (with full validation) of both eval runs and
  ``compare``, against pyarrow reading the same three columns.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
mode, root, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
from pathlib import Path
import duckdb
import pyarrow.parquet as pq
from prover_data.evaluation import compare as evalcompare
from prover_data.evaluation import sets as evalsets
from prover_data.inputs.theorem_lists import read_theorem_list
from prover_data.inputs.trajectories import check_trajectories
from prover_data.manifest import load_manifest

m = load_manifest("iter_4", root)
runs = sorted((Path(root) / "eval").glob("*.parquet"))

def inputs():
    index = read_theorem_list(m.resolve(m.sources.theorem_index))
    paths = [str(p) for p in m.trajectory_paths()]
    names = {r[0] for r in duckdb.connect().execute(
        "SELECT DISTINCT theorem_name FROM read_parquet(?)", [paths]).fetchall()}
    return index, names

if mode in ("sample", "audit"):
    index, names = inputs()
    lists = {n: read_theorem_list(p) for n, p in m.held_out_paths().items()}

def baseline():
    index, names = inputs()
    return index.num_rows + len(names)

def sample():
    r = evalsets.build_eval_set(m.eval.sets[0], m, {evalsets.TRAJECTORIES: names}, index=index, held_out=lists)
    return r.stats["clean_pool"]

def eval_build():
    from prover_data.views import connect
    check_trajectories(m)
    con = connect(m, embedding_tier=False)
    training = evalsets.training_theorems(con)
    r = evalsets.build_eval_set(m.eval.sets[0], m, training)
    return r.stats["clean_pool"]

def audit():
    statements = evalsets._known_statements(index, lists)
    return len(evalsets.audit(lists["minif2f_test"], {"trajectories": names}, statements, source="minif2f_test"))

def read_runs():
    return sum(pq.read_table(p, columns=["theorem_name", "depth_from_root", "is_proof_complete"]).num_rows
               for p in runs)

def compare():
    c = evalcompare.compare([evalcompare.read_run(p, p.stem) for p in runs])
    return sum(s["proved"] for s in c.summary)

run = {"baseline": baseline, "sample": sample, "eval_build": eval_build, "audit": audit,
       "read_runs": read_runs, "compare": compare}[mode]
best, result = float("inf"), None
for _ in range(repeat):
    t = time.perf_counter()
    result = run()
    best = min(best, time.perf_counter() - t)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": best, "result": result, "peak_rss_mib": int(hwm.split()[1]) / 1024}))
"""


def _measure(mode: str, root: Path, repeat: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(root), str(repeat)], capture_output=True,
                         text=True, check=True, cwd=REPO)
    return json.loads(out.stdout)


def _figures(root: Path, repeat: int, scale: float | None) -> dict:
    import pyarrow.parquet as pq

    from prover_data.inputs.theorem_lists import read_theorem_list

    index_rows = read_theorem_list(root / "theorem_index.json").num_rows
    run_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in sorted((root / "eval").glob("*.parquet")))
    f = {"scale": scale, "index_theorems": index_rows, "eval_run_rows": run_rows}
    for mode in ("baseline", "sample", "eval_build", "audit", "read_runs", "compare"):
        f[mode] = _measure(mode, root, repeat)
    return f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-root", type=Path, help="An existing replica (skips generating one).")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.data_root is not None:
        f = _figures(args.data_root, args.repeat, None)
    else:
        from prover_data.synth import generate

        with tempfile.TemporaryDirectory(prefix="bench-evalsets-") as d:
            generate(Path(d) / "replica", scale=args.scale, seed=args.seed)
            f = _figures(Path(d) / "replica", args.repeat, args.scale)
    if args.json:
        print(json.dumps(f, indent=2))
        return
    base, read = f["baseline"], f["read_runs"]
    print(f"Eval sets on a replica with {f['index_theorems']:,} indexed theorems, best of {args.repeat}:\n")
    print("| run | seconds | theorems/s | vs baseline | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for label, m in (("baseline: read theorem index + trajectory theorem names", base),
                     ("sample eval_clean_100 (given those)", f["sample"]),
                     ("eval build in-process (validate, views, sample)", f["eval_build"])):
        print(f"| {label} | {m['seconds']:.2f} | {f['index_theorems'] / m['seconds']:,.0f} | "
              f"{m['seconds'] / base['seconds']:.2f}x | {m['peak_rss_mib']:,.0f} |")
    print(f"| audit minif2f_test (244 theorems) | {f['audit']['seconds']:.3f} | {244 / f['audit']['seconds']:,.0f} | "
          f"-- | {f['audit']['peak_rss_mib']:,.0f} |")
    print(f"\nEval comparison, two runs, {f['eval_run_rows']:,} rows:\n")
    print("| run | seconds | rows/s | vs baseline | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for label, m in (("baseline: pyarrow reads the 3 columns", read),
                     ("read_run (full validation) + compare", f["compare"])):
        print(f"| {label} | {m['seconds']:.3f} | {f['eval_run_rows'] / m['seconds']:,.0f} | "
              f"{m['seconds'] / read['seconds']:.2f}x | {m['peak_rss_mib']:,.0f} |")


if __name__ == "__main__":
    main()
