"""Comparing eval search runs: who proved what, how deep, under which search config.

Each run is one trajectory parquet (``schema.TRAJECTORY``) written by searching an
eval set with one prover configuration. Per run and theorem:

* **ran**: the theorem has at least one node in the file (theorems that failed to
  elaborate never reach the file; ``--eval-set`` says how many of the set ran);
* **proved**: some node has ``is_proof_complete``;
* **proof depth**: the smallest ``depth_from_root`` of a completing node (the
  shortest proof the search found);
* **nodes**: the number of nodes the search expanded for the theorem (its rows).

A comparison gives the report's "Clean eval results" table (proved / ran / rate per
run), the proofs only one run found (with depth and nodes), for every run against the
first (the baseline) the theorems gained and the regressions (proved by the baseline,
not by the run, among theorems both ran), and median / max proof depth per run.

Results mean nothing without the search config that produced them, so each run
carries its config (``--config NAME=PATH``, else a sidecar ``<stem>.search.toml`` or
``<stem>.toml`` beside the parquet): its content hash and, across runs, every value
that differs. A run whose config is unknown is reported loudly, never assumed equal.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from prover_data.errors import InputError
from prover_data.identity import file_digest


@dataclass(frozen=True)
class SearchConfig:
    path: str
    digest: str  # identity.file_digest of the file
    values: dict  # flattened: "search.alpha" -> 0.5


@dataclass(frozen=True)
class EvalRun:
    name: str
    path: Path
    theorems: pa.Table  # theorem_name, nodes, proved, proof_depth (null unless proved); by name
    config: SearchConfig | None = None

    @property
    def ran(self) -> int:
        return self.theorems.num_rows

    def proved_names(self) -> set[str]:
        t = self.theorems.filter(self.theorems.column("proved"))
        return set(t.column("theorem_name").to_pylist())

    def row(self, theorem: str) -> dict:
        i = self.theorems.column("theorem_name").index(theorem).as_py()
        return {c: self.theorems.column(c)[i].as_py() for c in self.theorems.column_names}


def theorem_outcomes(table: pa.Table) -> pa.Table:
    """Per theorem of a trajectory table: nodes, proved, proof depth; sorted by name."""
    done = table.column("is_proof_complete")
    depth = pc.if_else(done, table.column("depth_from_root").cast(pa.int64()), pa.scalar(None, pa.int64()))
    t = pa.table({"theorem_name": table.column("theorem_name").cast(pa.string()), "done": done, "depth": depth})
    g = t.group_by("theorem_name").aggregate([("done", "count"), ("done", "any"), ("depth", "min")])
    g = g.select(["theorem_name", "done_count", "done_any", "depth_min"])
    g = g.rename_columns(["theorem_name", "nodes", "proved", "proof_depth"])
    return g.sort_by("theorem_name")


def read_run(path: str | Path, name: str, config: str | Path | None = None,
             repeated_searches: str = "refuse") -> EvalRun:
    """Validate an eval trajectory parquet and summarise it per theorem (over all its searches)."""
    import pyarrow.parquet as pq

    from prover_data.inputs.trajectories import check_trajectory_file

    path = Path(path)
    check_trajectory_file(path, repeated_searches)
    table = pq.read_table(path, columns=["theorem_name", "depth_from_root", "is_proof_complete"])
    cfg_path = Path(config) if config is not None else sidecar_config(path)
    return EvalRun(name, path, theorem_outcomes(table), read_config(cfg_path) if cfg_path else None)


def sidecar_config(path: Path) -> Path | None:
    """``<stem>.search.toml`` or ``<stem>.toml`` beside a run's parquet, if present."""
    for candidate in (path.with_name(f"{path.stem}.search.toml"), path.with_suffix(".toml")):
        if candidate.is_file():
            return candidate
    return None


def read_config(path: str | Path) -> SearchConfig:
    from prover_data.inputs.search_config import read_search_config

    doc = read_search_config(path)
    return SearchConfig(str(path), file_digest(path), _flatten(doc))


def _flatten(doc: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def default_names(paths: list[Path]) -> list[str]:
    """Run names from file stems, without the prefix they all share (``eval_clean_100_``)."""
    stems = [p.stem for p in paths]
    if len(stems) < 2:
        return stems
    prefix = os.path.commonprefix(stems)
    cut = prefix.rfind("_") + 1 if "_" in prefix else 0
    names = [s[cut:] for s in stems]
    return names if all(names) and len(set(names)) == len(names) else stems


# --------------------------------------------------------------------------- comparison


@dataclass
class Comparison:
    runs: list[EvalRun]
    eval_set: dict | None = None  # {"file", "size", "missing": [...], "extra": [...]}
    summary: list[dict] = field(default_factory=list)
    exclusive: dict[str, list[dict]] = field(default_factory=dict)
    versus_baseline: list[dict] = field(default_factory=list)
    same_theorems: bool = True
    configs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"runs": self.summary, "exclusive": self.exclusive, "versus_baseline": self.versus_baseline,
                "baseline": self.runs[0].name, "same_theorems": self.same_theorems, "configs": self.configs,
                "eval_set": self.eval_set}


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def compare(runs: list[EvalRun], eval_set: pa.Table | None = None, eval_set_file: str | None = None) -> Comparison:
    """Compare runs (the first is the baseline); see the module docstring."""
    if not runs:
        raise ValueError("compare needs at least one run")
    names = [r.name for r in runs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError.one("--names", f"two runs share the name {', '.join(dupes)}; give distinct --names")
    c = Comparison(runs)
    proved = {r.name: r.proved_names() for r in runs}
    ran = {r.name: set(r.theorems.column("theorem_name").to_pylist()) for r in runs}
    c.same_theorems = all(ran[n] == ran[names[0]] for n in names)
    best = max(len(proved[n]) / len(ran[n]) if ran[n] else 0.0 for n in names)
    for r in runs:
        depths = [d for d in r.theorems.column("proof_depth").to_pylist() if d is not None]
        rate = len(proved[r.name]) / r.ran if r.ran else 0.0
        c.summary.append({
            "name": r.name, "trajectory": str(r.path), "ran": r.ran, "proved": len(proved[r.name]),
            "rate": rate, "best": len(runs) > 1 and rate == best,
            "median_depth": _median(depths), "max_depth": max(depths) if depths else None,
            "config": None if r.config is None else {"path": r.config.path, "hash": r.config.digest},
        })
    for r in runs:
        others = set().union(*(proved[n] for n in names if n != r.name)) if len(runs) > 1 else set()
        c.exclusive[r.name] = _detail(r, proved[r.name] - others)
    base = runs[0]
    for k, r in enumerate(runs[1:], start=1):
        both = ran[base.name] & ran[r.name]
        gained = (proved[r.name] - proved[base.name]) & both
        lost = (proved[base.name] - proved[r.name]) & both
        c.versus_baseline.append({
            "baseline": base.name, "config": r.name, "common_theorems": len(both),
            "gained": _detail(r, gained), "regressions": _detail(base, lost), "net": len(gained) - len(lost),
            "rate_delta_pp": 100 * (c.summary[k]["rate"] - c.summary[0]["rate"]),
        })
    if eval_set is not None:
        members = set(eval_set.column("name").to_pylist())
        anywhere = set().union(*ran.values())
        c.eval_set = {"file": eval_set_file, "size": len(members), "ran_in_any": len(anywhere & members),
                      "missing": sorted(members - anywhere), "extra": sorted(anywhere - members)}
    c.configs = config_differences(runs)
    return c


def _detail(run: EvalRun, theorems: set[str]) -> list[dict]:
    """Theorems with the run's depth and nodes, deepest (then largest search) first."""
    rows = [run.row(t) for t in theorems]
    rows = [{"theorem": r["theorem_name"], "depth": r["proof_depth"], "nodes": r["nodes"]} for r in rows]
    return sorted(rows, key=lambda r: (-(r["depth"] if r["depth"] is not None else -1), -r["nodes"], r["theorem"]))


def config_differences(runs: list[EvalRun]) -> dict:
    """Whether the runs' search configs are known, identical, and which values differ."""
    unknown = [r.name for r in runs if r.config is None]
    known = [r for r in runs if r.config is not None]
    digests = {r.config.digest for r in known}
    keys = sorted(set().union(*(r.config.values for r in known))) if known else []
    missing = object()
    differing = {}
    for k in keys:
        values = [r.config.values.get(k, missing) for r in known]
        if any(v != values[0] for v in values):
            differing[k] = {r.name: (None if v is missing else v) for r, v in zip(known, values)}
    if unknown:
        status = "unknown"
    elif len(runs) == 1:
        status = "single"
    elif len(digests) == 1:
        status = "identical"
    elif not differing:
        status = "same values"
    else:
        status = "differ"
    return {"status": status, "unknown": unknown, "differences": differing,
            "runs": {r.name: (None if r.config is None else {"path": r.config.path, "hash": r.config.digest})
                     for r in runs}}


# --------------------------------------------------------------------------- Markdown


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def _theorem_list(rows: list[dict]) -> str:
    return "; ".join(f"`{r['theorem']}` (depth {r['depth']}, {r['nodes']:,} nodes)" if r["depth"] is not None
                     else f"`{r['theorem']}` ({r['nodes']:,} nodes)" for r in rows)


def warnings(c: Comparison) -> list[str]:
    """What a reader must not miss: unknown configs, differing theorem sets."""
    out = []
    for name in c.configs["unknown"]:
        out.append(f"search config of run '{name}' is UNKNOWN: its results cannot be tied to a configuration "
                   f"(pass --config {name}=PATH, or put {name}'s config beside its parquet as <stem>.search.toml)")
    if not c.same_theorems:
        sizes = ", ".join(f"{s['name']}: {s['ran']}" for s in c.summary)
        out.append(f"the runs did not run the same theorems ({sizes}); rates have different denominators, and "
                   "gains and regressions count only theorems both runs ran")
    if c.eval_set and c.eval_set["extra"]:
        out.append(f"{len(c.eval_set['extra'])} theorems of the runs are not in the eval set "
                   f"{c.eval_set['file']} (first: {c.eval_set['extra'][0]})")
    return out


def markdown_lines(c: Comparison) -> list[str]:
    out: list[str] = []
    for w in warnings(c):
        out += [f"> **Warning**: {w}", ""]
    if c.eval_set is not None:
        n, size = c.eval_set["ran_in_any"], c.eval_set["size"]
        out += [f"{n}/{size} theorems of `{c.eval_set['file']}` ran ({size - n} never reached a trajectory).", ""]
    elif c.same_theorems:
        out += [f"{c.summary[0]['ran']} theorems ran in every run.", ""]
    out += ["| Config | Proved | Rate | Trajectory |", "|--------|--------|------|------------|"]
    for s in c.summary:
        rate = f"**{_pct(s['rate'])}**" if s["best"] else _pct(s["rate"])
        out.append(f"| {s['name']} | {s['proved']}/{s['ran']} | {rate} | `{s['trajectory']}` |")
    out.append("")
    for v in c.versus_baseline:
        reg = len(v["regressions"])
        line = (f"**{v['config']} vs {v['baseline']}: {v['net']:+d} theorems ({v['rate_delta_pp']:+.1f}pp), "
                f"{'zero' if reg == 0 else reg} regression{'' if reg == 1 else 's'}.**")
        if reg == 0 and v["gained"]:
            line += f" Every {v['baseline']} proof was also found by {v['config']}."
        out.append(line)
        if v["regressions"]:
            out.append(f"- Regressions (proved by {v['baseline']}, not by {v['config']}): "
                       f"{_theorem_list(v['regressions'])}")
    if c.versus_baseline:
        out.append("")
    if len(c.runs) > 1:
        out.append("Exclusive proofs (found by one run only):")
        for name, rows in c.exclusive.items():
            out.append(f"- {name}: {len(rows)}" + (f" -- {_theorem_list(rows)}" if rows else ""))
        out.append("")
    out.append("Median proof depth: " + ", ".join(f"{_num(s['median_depth'])} ({s['name']})" for s in c.summary)
               + ". Max: " + ", ".join(f"{_num(s['max_depth'])} ({s['name']})" for s in c.summary) + ".")
    out.append("")
    out += config_lines(c.configs)
    return out


def config_lines(configs: dict) -> list[str]:
    runs = configs["runs"]
    out = ["Search configs:"]
    for name, cfg in runs.items():
        out.append(f"- {name}: " + (f"`{cfg['path']}` ({cfg['hash']})" if cfg else "**UNKNOWN**"))
    status = configs["status"]
    if status == "identical":
        out.append("- Identical files: every run used the same search config, so the runs differ only in what it "
                   "does not record (model and EBM weights, hardware).")
    elif status == "same values":
        out.append("- Different files with the same values (comments or layout differ).")
    if configs["differences"]:
        known = [n for n, cfg in runs.items() if cfg]
        out += ["", "| Key | " + " | ".join(known) + " |", "|---|" + "---|" * len(known)]
        for key, values in configs["differences"].items():
            out.append(f"| `{key}` | " + " | ".join("(absent)" if values[n] is None else f"`{values[n]}`"
                                                     for n in known) + " |")
    if configs["unknown"]:
        out.append(f"- **Config unknown for {', '.join(configs['unknown'])}: these runs may differ in ways "
                   "this comparison cannot see.**")
    return out


# --------------------------------------------------------------------------- plot


def plot(c: Comparison, path: str | Path) -> Path:
    """Bar chart: proved / ran per run (rate on the bar), and proof depths per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    names = [s["name"] for s in c.summary]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    x = range(len(names))
    left.bar(x, [s["ran"] for s in c.summary], color="#dee2e6", label="ran")
    bars = left.bar(x, [s["proved"] for s in c.summary], color="#2b8a3e", label="proved")
    for b, s in zip(bars, c.summary):
        left.annotate(f"{s['proved']}/{s['ran']} ({_pct(s['rate'])})", (b.get_x() + b.get_width() / 2, b.get_height()),
                      ha="center", va="bottom", fontsize=9)
    left.set_xticks(list(x), names)
    left.set_ylabel("theorems")
    left.set_title("proved per config")
    left.legend()
    depths = [[d for d in r.theorems.column("proof_depth").to_pylist() if d is not None] for r in c.runs]
    top = max((max(d) for d in depths if d), default=1)
    width = 0.8 / max(1, len(names))
    for k, (name, ds) in enumerate(zip(names, depths)):
        counts = [ds.count(d) for d in range(1, top + 1)]
        right.bar([d + (k - (len(names) - 1) / 2) * width for d in range(1, top + 1)], counts, width, label=name)
    right.set_xlabel("proof depth")
    right.set_ylabel("proved theorems")
    right.set_title("proof depth")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    from prover_data.atomic import atomic_file

    with atomic_file(path) as f:
        fig.savefig(f, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path
