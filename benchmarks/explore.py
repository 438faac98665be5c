"""``prover-data explore``: time to the first page and to a theorem page, against reading the build.

    python benchmarks/explore.py [--scale 1.0] [--seed 0] [--repeat 3] [--data-root DIR --build-dir DIR] [--json]

Generates a replica (``prover-data synth DIR --scale S --seed N``) and builds it
(``prover-data build-manifest iter_4 --data-root DIR``), unless ``--data-root`` and
``--build-dir`` name an existing one, then measures, each from a fresh process's launch,
best of ``--repeat``:

* baseline: a Python process where DuckDB reads every parquet output of the build whole
  (sft, contrastive, states) -- the least any viewer of the build pays;
* first page: ``prover-data explore iter_4`` launched until ``/`` (the Theorems page)
  has been served: start-up reads the trajectories, classifies the SFT pairs and
  summarizes every theorem;
* theorem page: then ``/theorem?name=...`` of the theorem with the most nodes (cold,
  the first request), and the median of 5 more;
* sorted, searched and sample pages: one request each, after the theorem page;

and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from html import unescape
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = ("sft_train", "sft_val", "contrastive_train", "contrastive_val", "states")

_BASELINE = r"""
import sys, duckdb
paths = sys.argv[1:]
con = duckdb.connect()
print(sum(con.execute("SELECT * FROM read_parquet(?)", [p]).to_arrow_table().num_rows for p in paths))
"""


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "prover_data", *args], cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def _get(url: str) -> tuple[float, str]:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as r:
        body = r.read().decode("utf-8")
    return time.perf_counter() - t, body


def baseline(build: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", _BASELINE, *(str(build / f"{o}.parquet") for o in OUTPUTS)],
                   check=True, capture_output=True)
    return time.perf_counter() - t


def explore_once(data_root: Path, build_root: Path) -> dict:
    """Launch the server, time the pages, stop it; seconds from launch and per request."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "prover_data", "explore", "iter_4", "--data-root", str(data_root),
                             "--build-dir", str(build_root), "--port", "0"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        url = proc.stdout.readline().strip()
        _, _ = _get(url)
        first_page = time.perf_counter() - t0
        sorted_page, body = _get(url + "?sort=nodes&dir=desc")
        name = unescape(re.search(r'<td class="name"><a href="/theorem\?name=[^"]*">([^<]+)</a>', body).group(1))
        cold, _ = _get(f"{url}theorem?name={quote(name)}")
        warm = statistics.median(_get(f"{url}theorem?name={quote(name)}")[0] for _ in range(5))
        searched, _ = _get(url + "?q=nat.prime&proved=yes")
        sample, _ = _get(url + "sample/train/0")
        hwm = next(line for line in open(f"/proc/{proc.pid}/status") if line.startswith("VmHWM:"))
        return {"first_page": first_page, "theorem_cold": cold, "theorem_warm": warm, "theorem_to": first_page + cold,
                "sorted_page": sorted_page, "searched_page": searched, "sample_page": sample, "theorem": name,
                "peak_rss_mib": int(hwm.split()[1]) / 1024}
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def figures(data_root: Path, build_root: Path, repeat: int, scale: float | None) -> dict:
    build = build_root / "iter_4"
    stats = json.loads((build / "stats.json").read_text())
    runs = [explore_once(data_root, build_root) for _ in range(repeat)]
    best = {k: min(r[k] for r in runs) for k in runs[0] if k != "theorem"}
    return {"scale": scale, "records": sum(f["total"] for f in stats["files"]), "baseline": min(
        baseline(build) for _ in range(repeat)), "explore": best, "theorem": runs[0]["theorem"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-root", type=Path, help="An existing replica (with --build-dir: skips synth and build).")
    ap.add_argument("--build-dir", type=Path, help="Where iter_4 of --data-root is built.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.data_root is not None and args.build_dir is not None:
        f = figures(args.data_root, args.build_dir, args.repeat, None)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-explore-") as d:
            root, build = Path(d) / "replica", Path(d) / "build"
            _cli("synth", str(root), "--scale", str(args.scale), "--seed", str(args.seed))
            _cli("build-manifest", "iter_4", "--data-root", str(root), "--build-dir", str(build))
            f = figures(root, build, args.repeat, args.scale)
    if args.json:
        print(json.dumps(f, indent=2))
        return
    e, base = f["explore"], f["baseline"]
    print(f"prover-data explore on a replica of {f['records']:,} records, best of {args.repeat} launches "
          f"(theorem page: {f['theorem']}; server peak RSS {e['peak_rss_mib']:,.0f} MiB):\n")
    print("| from launch to | seconds | vs baseline |")
    print("|---|---:|---:|")
    for label, s in (("baseline: DuckDB has read every parquet output", base),
                     ("Theorems page served", e["first_page"]),
                     ("a theorem page served (first page, then the theorem)", e["theorem_to"])):
        print(f"| {label} | {s:.2f} | {s / base:.2f}x |")
    print("\n| one request, server up | milliseconds |")
    print("|---|---:|")
    for label, key in (("theorem page, first request", "theorem_cold"), ("theorem page, median of 5", "theorem_warm"),
                       ("Theorems sorted by nodes", "sorted_page"), ("Theorems searched + filtered", "searched_page"),
                       ("sample page", "sample_page")):
        print(f"| {label} | {e[key] * 1000:.0f} |")


if __name__ == "__main__":
    main()
