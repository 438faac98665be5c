"""Validation throughput: full trajectory validation against just reading the file.

    python benchmarks/validate.py [--scale 1.0] [--seed 0] [--repeat 3] [--json]

Generates a replica (``prover-data synth``) at ``--scale``, joins its 8 trajectory files
into one file (theorem names prefixed by the file stem, so the trees stay valid), and
makes a broken copy (1% unknown labels, 0.1% dangling parents: the failure path,
which also runs the loop search). Each measurement runs in a fresh process and
reports the best of ``--repeat`` runs, rows/s and the process's peak RSS:

* baseline: DuckDB reads every spec'd column of the file (what any build pays);
* validate: ``inputs.trajectories.validate_trajectory_file`` on the clean file;
* validate (broken): the same on the broken copy, which must report problems;
* ``prover-data validate`` on the whole replica directory, as a user runs it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
mode, path, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
import duckdb
from prover_data.schema import TRAJECTORY
from prover_data.inputs.trajectories import validate_trajectory_file

def baseline():
    cols = ", ".join(TRAJECTORY.names)
    con = duckdb.connect()
    return con.execute(f"SELECT count(*), count(DISTINCT theorem_name), sum(strlen(state_pp)), "
                       f"sum(strlen(tactic_applied)), count(parent_state_id) "
                       f"FROM (SELECT {cols} FROM read_parquet(?))", [path]).fetchone()[0]

def validate():
    info, problems = validate_trajectory_file(path)
    return info.rows if info else -len(problems)

run = baseline if mode == "baseline" else validate
best, result = float("inf"), None
for _ in range(repeat):
    t = time.perf_counter()
    result = run()
    best = min(best, time.perf_counter() - t)
# VmHWM, not ru_maxrss: Linux carries the parent's ru_maxrss over fork + exec.
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": best, "result": result, "peak_rss_mib": int(hwm.split()[1]) / 1024}))
"""


def _measure(mode: str, path: Path, repeat: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path), str(repeat)], capture_output=True,
                         text=True, check=True, cwd=REPO)
    return json.loads(out.stdout)


def _cli(replica: Path, repeat: int) -> dict:
    """``prover-data validate`` on the whole replica directory, process start included."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "prover_data", "validate", str(replica), "--json"],
                              capture_output=True, text=True, cwd=REPO)
        best = min(best, time.perf_counter() - t)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["with_problems"] == 0, proc.stderr
    return {"seconds": best, "files": report["files_checked"],
            "trajectory_rows": sum(f["rows"] for f in report["files"] if f["kind"] == "trajectory")}


def _inputs(work: Path, scale: float, seed: int) -> tuple[Path, Path, int]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from prover_data.synth import generate

    generate(work / "replica", scale=scale, seed=seed)
    tables = []
    for f in sorted((work / "replica" / "trajectories").glob("*.parquet")):
        t = pq.read_table(f)
        names = pc.binary_join_element_wise(f.stem, t.column("theorem_name"), "/")
        tables.append(t.set_column(t.schema.get_field_index("theorem_name"), "theorem_name", names))
    table = pa.concat_tables(tables)
    clean = work / "all.parquet"
    pq.write_table(table, clean)

    n = table.num_rows
    rng = np.random.default_rng(seed)
    labels = np.asarray(table.column("label").to_pylist(), dtype=object)
    labels[rng.choice(n, n // 100, replace=False)] = "maybe"
    has_parent = np.flatnonzero(table.column("parent_state_id").is_valid().to_numpy(zero_copy_only=False))
    dangling = rng.choice(has_parent, n // 1000, replace=False)
    parent_list = table.column("parent_state_id").to_pylist()
    for i in dangling:
        parent_list[i] = 10**12 + int(i)
    broken = work / "broken.parquet"
    table = table.set_column(table.schema.get_field_index("label"), "label", pa.array(labels.tolist(), pa.string()))
    table = table.set_column(table.schema.get_field_index("parent_state_id"), "parent_state_id",
                             pa.array(parent_list, pa.uint64()))
    pq.write_table(table, broken)
    return clean, broken, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as d:
        clean, broken, rows = _inputs(Path(d), args.scale, args.seed)
        size = clean.stat().st_size
        base = _measure("baseline", clean, args.repeat)
        ok = _measure("validate", clean, args.repeat)
        bad = _measure("validate", broken, args.repeat)
        cli = _cli(Path(d) / "replica", args.repeat)
    assert ok["result"] == rows, ok
    assert bad["result"] < 0, "the broken file must be rejected"
    figures = {"rows": rows, "file_mib": round(size / 2**20, 1), "scale": args.scale,
               "baseline": base, "validate": ok, "validate_broken": bad, "cli_replica": cli}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"Trajectory validation, one file of {rows:,} rows ({figures['file_mib']} MiB), best of {args.repeat}:\n")
    print("| run | seconds | rows/s | vs baseline | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for label, m in (("baseline: DuckDB reads every spec'd column", base), ("validate (clean file)", ok),
                     (f"validate (broken copy: {-bad['result']} problems)", bad)):
        print(f"| {label} | {m['seconds']:.2f} | {rows / m['seconds']:,.0f} | {m['seconds'] / base['seconds']:.2f}x "
              f"| {m['peak_rss_mib']:,.0f} |")
    print(f"\n`prover-data validate` on the whole replica ({cli['files']} files, {cli['trajectory_rows']:,} trajectory "
          f"rows, process start included): {cli['seconds']:.2f} s")


if __name__ == "__main__":
    main()
