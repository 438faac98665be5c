"""build-manifest against the floor of its work, a straightforward pandas pipeline and BurnQED's SFT loader.

    python benchmarks/build_manifest.py [--scales 1 16] [--repeat N] [--stages] [--work DIR] [--keep] [--json]

For each scale, on a replica written by ``prover-data synth --seed 0`` (scale 1.0 ≈ 650K
records, 16 ≈ 10M), each run is a fresh process whose wall time, CPU seconds and peak
RSS (``wait4``) are measured; with ``--repeat N`` the best time of N runs is kept (with
its CPU seconds, and the highest RSS):

* **the floor** -- the work no build can skip, the shortest way in DuckDB (``floor``):
  read every record, hash each state, pair each positive with its parent's state, dedup
  the pairs, collect the unique states, write both as parquet. The cold build is
  reported as a multiple of it;
* **cold build** -- ``prover-data build-manifest iter_4 --force`` into an empty build
  directory: validation of every input, every output, statistics, eval set and audit,
  report with plots, lock, views.duckdb;
* **iteration N+1** -- iter_4 built after a build of iteration N (iter_4 without its last
  two files) left its validation cache, against the same build cold;
* **no-op rebuild** -- the same command again, inputs unchanged (it must say it is up to
  date); also the ``build()`` call alone, timed inside a fresh process, without the
  interpreter's start and imports;
* **baseline 1, pandas** -- the build's data work written the obvious way in pandas: read
  the 8 files, pair each positive with its parent's state, strip, filter empty/sorry, dedup
  across files in manifest order, split by theorem, base pairs (LeanDojo JSON via
  ``json.loads``, filtered, deduped, subsampled), contrastive records, sibling and
  non-sibling negatives (less the states positive anywhere, the build's default
  ``false_negatives = "exclude"``), K negatives per (round, theorem) drawn with numpy (vectorized,
  seeded, not the build's content-keyed draws, so the same counts but other picks),
  unique states with MD5 keys, parquet outputs in content order. No validation, report,
  plots, eval set or lock: less work than the build. Its counts must equal the build's
  ``stats.json`` (checked, every disagreement printed);
* **baseline 2, BurnQED's loader** -- ``train_llm.py``'s ``load_trajectory_data`` loop:
  ``iterrows`` over each file's positive rows with a Python set of (state, tactic); SFT
  only. Its usable count must equal the build's count under BurnQED's own-state pairing;
* **views, SFT only** -- baseline 2's work through the SQL views (``sft_classify`` with
  BurnQED's pairing, straight off the parquet files): the like-for-like comparison with
  baseline 2, whose counts it must equal;
* **stages** (``--stages``) -- one more cold build, in-process, timed stage by stage, to
  show where the build's time goes.

Prints the figures and the ratios against the targets: cold build <= 2x the floor (and
the multiple of the floor the build's CPU seconds allow on this machine's cores), >= 2.5x
faster than baseline 1 and >= 5x faster than baseline 2, no-op rebuild <= 0.5 s, and at the
largest scale time per record within LINEAR_TOLERANCE of the smallest scale's and peak
RSS <= 3 GiB. The baselines run only up to ``--baselines-up-to`` (pandas needs about
3 GiB per 650K records, so not at scale 16 on a 24 GiB machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MANIFEST = REPO / "manifests" / "iter_4.toml"
CLI = [str(Path(sys.executable).parent / "prover-data")]
GIB = 2 ** 30
TARGET_VS_PANDAS = 2.5
TARGET_VS_BURNQED = 5.0
TARGET_NOOP_S = 0.5
TARGET_VS_FLOOR = 2.0
CORES = len(os.sched_getaffinity(0))
TARGET_PEAK_RSS = 3 * GIB
# "Time grows linearly": the largest scale's seconds per record at most this multiple of
# the smallest scale's. Fixed costs (imports, plots) make small scales cheaper per record
# than they would be, so compare scales 1 and 16, not toy scales.
LINEAR_TOLERANCE = 1.15


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_measured(cmd: list[str], repeat: int = 1, before=lambda: None) -> dict:
    """Best wall seconds (and the CPU seconds of that run), highest peak RSS and the last
    stdout of ``repeat`` fresh processes.

    Peak RSS is ``wait4``'s ``ru_maxrss`` of the process (and any children it waited for);
    CPU seconds are its user + system time, every thread's: wall time can only fall to
    that divided by the cores, so it says how far overlapping work could take a run.
    """
    best, cpu, rss, out = float("inf"), 0.0, 0, ""
    for _ in range(repeat):
        before()
        with tempfile.TemporaryFile("w+") as err:
            t = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO)
            out = proc.stdout.read()
            proc.stdout.close()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode:
                err.seek(0)
                raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{err.read()[-4000:]}")
        if wall < best:
            best, cpu = wall, usage.ru_utime + usage.ru_stime
        rss = max(rss, usage.ru_maxrss * 1024)
    return {"seconds": best, "cpu_seconds": cpu, "peak_rss": rss, "stdout": out}


# --------------------------------------------------------------------------- the floor


def floor(root: Path, out: Path) -> dict:
    """The work no build can skip, the shortest way in DuckDB: read every record (every
    column, as validation must), hash each state, pair each positive with its parent's
    state, dedup the pairs, collect the unique states, write both as parquet."""
    import duckdb

    from prover_data.manifest import load_manifest

    paths = [str(p) for p in load_manifest(MANIFEST, root).trajectory_paths()]
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE t AS SELECT *, unhex(md5(state_pp)) AS h "
                "FROM read_parquet(?, filename = true)", [paths])
    pairs = con.execute(f"""COPY (SELECT DISTINCT p.state_pp, c.tactic_applied FROM t AS c JOIN t AS p
                          ON p.filename = c.filename AND p.theorem_name = c.theorem_name
                         AND p.state_id = c.parent_state_id WHERE c.label = 'positive')
                        TO '{out / "pairs.parquet"}' (FORMAT parquet, COMPRESSION zstd)""").fetchall()[0][0]
    states = con.execute(f"""COPY (SELECT h, any_value(state_pp) FROM t WHERE label IN ('positive', 'negative')
                         GROUP BY h) TO '{out / "states.parquet"}' (FORMAT parquet, COMPRESSION zstd)""").fetchall()[0][0]
    return {"pairs": pairs, "states": states}


# --------------------------------------------------------------------------- baseline 1


def pandas_pipeline(root: Path, out: Path) -> dict:
    """The build's data work, the obvious way in pandas; returns the counts it computed."""
    import hashlib

    import numpy as np
    import pandas as pd

    from prover_data.identity import split_bucket
    from prover_data.manifest import load_manifest

    m = load_manifest(MANIFEST, root)
    f, cfg = m.filters, m.contrastive
    if not (f.drop_empty and f.drop_sorry and f.dedup):
        raise SystemExit("the pandas baseline implements iter_4's filters (drop_empty, drop_sorry, dedup all on)")
    seed, val_fraction = m.split.seed, m.split.val_fraction

    def md5(s: str) -> bytes:
        return hashlib.md5(s.encode("utf-8")).digest()

    def split_of(names) -> np.ndarray:
        return np.where([split_bucket(seed, n) < val_fraction for n in names], "val", "train")

    frames = []
    for order, path in enumerate(m.trajectory_paths()):
        df = pd.read_parquet(path)
        df["source"], df["file_order"] = path.stem, order
        frames.append(df)
    t = pd.concat(frames, ignore_index=True)
    del frames
    names = t["theorem_name"].unique()
    t["split"] = t["theorem_name"].map(pd.Series(split_of(names), index=names))

    # SFT candidates: (parent's state, tactic); the own state for generate-negatives files
    # (or for every file under BurnQED's pairing)
    pos = t[t["label"] == "positive"]
    parents = t[["file_order", "theorem_name", "state_id", "state_pp"]].rename(
        columns={"state_id": "parent_state_id", "state_pp": "parent_pp"})
    c = pos.merge(parents, on=["file_order", "theorem_name", "parent_state_id"], how="left")
    own = c["source"].isin(f.own_state_sources) | (f.pairing == "burnqed_compat")
    c["state"] = c["state_pp"].where(own, c["parent_pp"].fillna("")).str.strip()
    c["depth"] = c["depth_from_root"].astype(np.int64) - np.where(own, 0, 1)
    c["tactic"] = c["tactic_applied"].str.strip()
    c["is_empty"] = (c["state"] == "") | (c["tactic"] == "")
    c["is_sorry"] = ~c["is_empty"] & c["tactic"].str.contains("sorry", regex=False)
    # the first occurrence in manifest file order, then by content inside a file
    c = c.sort_values(["file_order", "theorem_name", "depth", "state_id"], kind="stable")
    ok = ~(c["is_empty"] | c["is_sorry"])
    c["is_dup"] = False
    c.loc[ok, "is_dup"] = c.loc[ok].duplicated(["state", "tactic"])
    c["usable"] = ok & ~c["is_dup"]
    per_file = c.groupby("source").agg(positive=("state_id", "size"), usable=("usable", "sum"),
                                       empty=("is_empty", "sum"), sorry=("is_sorry", "sum"), dup=("is_dup", "sum"))
    totals = t.groupby("source").size()
    pairs = c.loc[c["usable"], ["theorem_name", "source", "file_order", "state", "tactic", "depth", "split"]]
    pairs = pairs.rename(columns={"file_order": "source_order"})

    # base pairs: LeanDojo traced tactics, filtered and deduped alike, train side subsampled
    base = m.sources.base_pairs
    doc = json.loads(m.resolve(base.path).read_text(encoding="utf-8"))
    b = pd.DataFrame([{"theorem_name": th["full_name"], "tactic_index": i, "state": tt["state_before"],
                       "tactic": tt["tactic"]} for th in doc for i, tt in enumerate(th["traced_tactics"])])
    del doc
    b["state"], b["tactic"] = b["state"].str.strip(), b["tactic"].str.strip()
    b = b.sort_values(["theorem_name", "tactic_index"], kind="stable")
    b_empty = (b["state"] == "") | (b["tactic"] == "")
    b_sorry = ~b_empty & b["tactic"].str.contains("sorry", regex=False)
    b_dup = ~(b_empty | b_sorry) & b.duplicated(["state", "tactic"])
    b = b[~(b_empty | b_sorry | b_dup)].copy()
    b["split"] = split_of(b["theorem_name"])
    b["rank_key"] = [int(hashlib.md5(f"{base.seed}:{n}:{s}:{tc}".encode()).hexdigest()[:15], 16)
                     for n, s, tc in zip(b["theorem_name"], b["state"], b["tactic"])]
    b_train = b[b["split"] == "train"].sort_values(["rank_key", "theorem_name", "tactic_index"])
    if base.subsample is not None and base.subsample >= 0:
        b_train = b_train.head(base.subsample)
    b_val = b[b["split"] == "val"]
    columns = ["theorem_name", "source", "state", "tactic", "depth", "source_order"]
    for part, b_part in (("train", b_train), ("val", b_val)):
        frame = pd.concat([pairs.loc[pairs["split"] == part, columns],
                           b_part.assign(source="base", depth=b_part["tactic_index"], source_order=1_000_000)[columns]],
                          ignore_index=True)
        codes, uniques = pd.factorize(frame["state"])
        frame["state_hash"] = np.array([md5(s) for s in uniques], dtype=object)[codes]
        frame = frame.sort_values(["source_order", "theorem_name", "depth", "state", "tactic"], kind="stable")
        frame.rename(columns={"state": "state_pp"})[
            ["theorem_name", "source", "state_pp", "tactic", "state_hash", "depth"]
        ].to_parquet(out / f"sft_{part}.parquet", index=False)

    # contrastive records; each distinct state hashed once
    rec = t[t["label"].isin(["positive", "negative"])].copy()
    codes, uniques = pd.factorize(rec["state_pp"])
    rec["state_code"] = codes
    state_hashes = np.array([md5(s) for s in uniques], dtype=object)
    positives = rec[rec["label"] == "positive"]
    keys = ["file_order", "theorem_name", "parent_state_id"] if cfg.sibling_scope == "file" \
        else ["theorem_name", "parent_state_id"]
    positive_parents = positives.loc[positives["parent_state_id"].notna(), keys].drop_duplicates().assign(sibling=True)
    neg = rec[rec["label"] == "negative"].merge(positive_parents, on=keys, how="left")
    neg["sibling"] = neg["sibling"].notna()
    if cfg.false_negatives == "exclude":  # a state that is a positive record anywhere is no negative
        neg = neg[~neg["state_code"].isin(positives["state_code"].unique())]
    sampled = positives[positives["state_pp"] != ""] if cfg.positive_states == "non_empty" else positives
    contrastive = {}
    for split in ("train", "val"):
        p_split, n_split = positives[positives["split"] == split], neg[neg["split"] == split]
        s_split = sampled[sampled["split"] == split]
        in_split = t["split"] == split
        contrastive[split] = {
            "records": int((rec["split"] == split).sum()),
            "unknown_records": int((in_split & ~t["label"].isin(["positive", "negative"])).sum()),
            "eligible_theorems": int(p_split["theorem_name"].nunique()),
            "sampled_theorems": int(s_split["theorem_name"].nunique()),
            "eligible_positive_records": len(s_split),
            "sibling_negatives": int(n_split["sibling"].sum()),
            "non_sibling_negatives": int((~n_split["sibling"]).sum()),
            "total_negatives": len(n_split),
        }

    # K negatives for each (round, theorem): hard = siblings, medium = same-theorem
    # non-siblings, easy = any negative of the split (three tries for another theorem);
    # an empty pool passes its quota on. Vectorized over all slots of all anchors.
    k = cfg.k_negatives
    hard0, medium0 = round(k * cfg.hard_ratio), round(k * cfg.medium_ratio)
    rng = np.random.default_rng(cfg.seed)
    theorem_code = {n: i for i, n in enumerate(names)}
    sampled = sampled.sort_values(["split", "theorem_name"], kind="stable")
    groups = sampled.groupby(["split", "theorem_name"], sort=True).size().rename("n").reset_index()
    groups["start"] = np.concatenate([[0], np.cumsum(groups["n"].to_numpy())[:-1]])
    groups = groups[groups["split"].isin(neg["split"].unique())]  # nothing to contrast: no samples
    anchors = groups.loc[groups.index.repeat(cfg.rounds)].reset_index(drop=True)
    anchors["round"] = np.tile(np.arange(1, cfg.rounds + 1), len(groups))
    pick = anchors["start"].to_numpy() + (rng.random(len(anchors)) * anchors["n"].to_numpy()).astype(np.int64)
    anchors["pos_state_hash"] = state_hashes[sampled["state_code"].to_numpy()[pick]]
    anchors["pos_remaining_depth"] = sampled["remaining_depth"].to_numpy()[pick]
    anchors["source"] = sampled["source"].to_numpy()[pick]

    negs = neg.assign(tier_rank=np.where(neg["sibling"], 0, 1)).sort_values(
        ["split", "theorem_name", "tier_rank"], kind="stable").reset_index(drop=True)
    negs["at"] = np.arange(len(negs))
    pools = negs.groupby(["split", "theorem_name"]).agg(pool_start=("at", "min"), n_hard=("sibling", "sum"),
                                                        n_pool=("at", "size")).reset_index()
    by_split = negs.groupby("split").agg(split_start=("at", "min"), split_n=("at", "size")).reset_index()
    anchors = anchors.merge(pools, on=["split", "theorem_name"], how="left").merge(by_split, on="split")
    anchors = anchors.sort_values(["split", "round", "theorem_name"], kind="stable").reset_index(drop=True)
    a = {col: anchors[col].fillna(0).to_numpy(np.int64)
         for col in ("pool_start", "n_hard", "n_pool", "split_start", "split_n")}
    a["n_medium"] = a["n_pool"] - a["n_hard"]
    q_hard = np.where(a["n_hard"] > 0, hard0, 0)
    q_medium = np.where(a["n_medium"] > 0, medium0 + hard0 - q_hard, 0)
    slot = {col: np.repeat(v, k) for col, v in a.items()}
    position = np.tile(np.arange(k), len(anchors))
    q_hard, q_medium = np.repeat(q_hard, k), np.repeat(q_medium, k)
    tier = np.where(position < q_hard, 0, np.where(position < q_hard + q_medium, 1, 2))
    u = rng.random(len(position))
    hard_at = slot["pool_start"] + (u * slot["n_hard"]).astype(np.int64)
    medium_at = slot["pool_start"] + slot["n_hard"] + (u * slot["n_medium"]).astype(np.int64)
    own_theorem = np.repeat(anchors["theorem_name"].map(theorem_code).to_numpy(), k)
    neg_theorem = negs["theorem_name"].map(theorem_code).to_numpy()
    easy_at = None
    for _ in range(3):
        draw = slot["split_start"] + (rng.random(len(position)) * slot["split_n"]).astype(np.int64)
        easy_at = draw if easy_at is None else np.where(neg_theorem[easy_at] != own_theorem, easy_at, draw)
    chosen = np.select([tier == 0, tier == 1], [hard_at, medium_at], easy_at)
    neg_hashes = state_hashes[negs["state_code"].to_numpy()[chosen]].reshape(-1, k)
    tier_names = np.array(["hard", "medium", "easy"], dtype=object)[tier].reshape(-1, k)
    anchors["neg_state_hashes"] = neg_hashes.tolist()
    anchors["neg_tiers"] = tier_names.tolist()
    anchors["sample_id"] = anchors.groupby("split").cumcount()
    tiers = {}
    for split in ("train", "val"):
        in_split = (anchors["split"] == split).to_numpy()
        columns = ["sample_id", "round", "theorem_name", "source", "pos_state_hash", "pos_remaining_depth",
                   "neg_state_hashes", "neg_tiers"]
        anchors[in_split][columns].to_parquet(out / f"contrastive_{split}.parquet", index=False)
        counts = np.bincount(tier.reshape(-1, k)[in_split].ravel(), minlength=3)
        tiers[split] = {"rows": int(in_split.sum()),
                        "tiers": {"hard": int(counts[0]), "embedding": 0,  # iter_4 has no embedding tier
                                  "medium": int(counts[1]), "easy": int(counts[2])}}

    # unique states of positive and negative records, keyed by MD5
    states = rec.assign(n_positive=rec["label"] == "positive", n_negative=rec["label"] == "negative").groupby(
        "state_code").agg(n_records=("label", "size"), n_positive=("n_positive", "sum"),
                          n_negative=("n_negative", "sum"))
    states.insert(0, "state_pp", uniques[states.index.to_numpy()])
    states.insert(0, "state_hash", state_hashes[states.index.to_numpy()])
    states.sort_values("state_hash").to_parquet(out / "states.parquet", index=False)

    return {
        "files": {s: {"positive": int(r["positive"]), "total": int(totals[s]), "usable": int(r["usable"]),
                      "empty": int(r["empty"]), "sorry": int(r["sorry"]), "dup": int(r["dup"])}
                  for s, r in per_file.iterrows()},
        "sft": {"usable": int(c["usable"].sum()), "empty": int(c["is_empty"].sum()), "sorry": int(c["is_sorry"].sum()),
                "dup": int(c["is_dup"].sum()), "trajectory_train": int((pairs["split"] == "train").sum()),
                "trajectory_val": int((pairs["split"] == "val").sum()), "base_train": len(b_train),
                "base_val": len(b_val)},
        "contrastive": contrastive,
        "samples": tiers,
        "unique_states": len(states),
    }


# --------------------------------------------------------------------------- baseline 2


def burnqed_loader(root: Path) -> dict:
    """BurnQED's ``load_trajectory_data`` loop: iterrows over positives, a Python set."""
    import pyarrow.parquet as pq

    from prover_data.manifest import load_manifest

    records, seen = [], set()
    counts = {"empty": 0, "sorry": 0, "dup": 0}
    for path in load_manifest(MANIFEST, root).trajectory_paths():
        df = pq.read_table(path, columns=["state_pp", "tactic_applied", "label"]).to_pandas()
        positive = df[df["label"] == "positive"]
        for _, row in positive.iterrows():
            state = str(row["state_pp"]).strip()
            tactic = str(row["tactic_applied"]).strip()
            if not state or not tactic:
                counts["empty"] += 1
                continue
            if "sorry" in tactic:
                counts["sorry"] += 1
                continue
            if (state, tactic) in seen:
                counts["dup"] += 1
                continue
            seen.add((state, tactic))
            text = f"Complete the following Lean 4 code:\n\n```lean4\n/- tactic state:\n{state}\n-/\n```\n{tactic}"
            records.append({"text": text, "theorem": "", "depth": 0})
    return {"usable": len(records), **counts}


def views_sft(root: Path) -> dict:
    """Baseline 2's work through the SQL views: SFT counts under BurnQED's own-state pairing."""
    from prover_data.manifest import load_manifest
    from prover_data.views import connect

    con = connect(load_manifest(MANIFEST, root), read_base_pairs=False)
    counts = dict(con.execute("SELECT status, count(*) FROM sft_classify('burnqed_compat') GROUP BY ALL").fetchall())
    return {"usable": counts.get("usable", 0), **{k: counts.get(k, 0) for k in ("empty", "sorry", "dup")}}


def noop_call(root: Path, build_root: Path) -> dict:
    """The in-process ``build()`` call on an up-to-date build, without start-up and imports."""
    from prover_data.build.stages import build
    from prover_data.manifest import load_manifest

    manifest = load_manifest(MANIFEST, root)
    t = time.perf_counter()
    result = build(manifest, build_root)
    seconds = time.perf_counter() - t
    if not result.up_to_date:
        raise SystemExit("the in-process rebuild was not a no-op")
    return {"seconds": seconds}


class StageClock:
    """A stand-in for the CLI's progress display that records when each build stage starts
    and ends (``build.build`` opens one task per stage and completes it at the stage's end)."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.stages: list[dict] = []

    def add_task(self, name: str, total: int | None = 1, completed: int = 0) -> int:
        now = time.perf_counter() - self.t0
        self.stages.append({"stage": name, "start": now, "seconds": 0.0 if completed else None,
                            "cpu_start": _cpu(), "cpu_seconds": 0.0 if completed else None})
        return len(self.stages) - 1

    def advance(self, task: int, n: int) -> None:
        pass

    def update(self, task: int, completed: int, total: int | None = None) -> None:
        stage = self.stages[task]
        stage["seconds"] = time.perf_counter() - self.t0 - stage["start"]
        stage["cpu_seconds"] = _cpu() - stage["cpu_start"]


def _cpu() -> float:
    """This process's CPU seconds so far, every thread's (DuckDB's, the encoder's, the plots')."""
    t = os.times()
    return t.user + t.system


def build_stages(root: Path, build_root: Path) -> dict:
    """A cold ``build()`` in-process, timed stage by stage (stages 2 and 3 overlap)."""
    from prover_data.build.stages import build
    from prover_data.manifest import load_manifest

    manifest = load_manifest(MANIFEST, root)
    clock = StageClock()
    build(manifest, build_root, force=True, progress=clock)
    return {"seconds": time.perf_counter() - clock.t0, "stages": clock.stages}


# --------------------------------------------------------------------------- checks and driver


def check_pandas(got: dict, stats: dict) -> tuple[int, list[str]]:
    """(counts compared, where the pandas pipeline's counts differ from the build's)."""
    checked, bad = 0, []

    def compare(what: str, mine, build) -> None:
        nonlocal checked
        checked += 1
        if mine != build:
            bad.append(f"{what}: pandas {mine} vs build {build}")

    for f in stats["files"]:
        mine = got["files"].get(f["source"], {})
        for key in ("total", "positive", "usable", "empty", "sorry", "dup"):
            compare(f"{f['source']}.{key}", mine.get(key), f[key])
    for key, value in got["sft"].items():
        compare(f"sft.{key}", value, stats["sft"][key])
    for split in ("train", "val"):
        for key, value in got["contrastive"][split].items():
            compare(f"contrastive.{split}.{key}", value, stats["contrastive"][split][key])
        compare(f"contrastive.samples.{split}", got["samples"][split], stats["contrastive"]["samples"][split])
    compare("unique states", got["unique_states"], stats["embeddings"]["unique_states"])
    return checked, bad


def measure(scale: float, work: Path, keep: bool, baselines: bool, repeat: int, stages: bool) -> dict:
    root = work / f"replica_{scale:g}"
    if keep and (root / "trajectories").is_dir():
        info(f"scale {scale:g}: reusing the replica in {root}")
    else:
        info(f"scale {scale:g}: prover-data synth {root} --scale {scale:g} --seed 0")
        subprocess.run(CLI + ["synth", str(root), "--scale", str(scale), "--seed", "0", "--force", "--json"],
                       check=True, capture_output=True, cwd=REPO)
    build_root = work / f"build_{scale:g}"
    base = CLI + ["build-manifest", str(MANIFEST), "--data-root", str(root), "--build-dir", str(build_root), "--json"]

    info(f"scale {scale:g}: the floor")
    me = [sys.executable, __file__, "--root", str(root)]
    floor_run = run_measured(me + ["--child", "floor", "--out", str(work / f"floor_{scale:g}")], repeat)
    floor_run.pop("stdout")
    info(f"scale {scale:g}: cold build")
    cold = run_measured(base + ["--force"], repeat, before=lambda: shutil.rmtree(build_root, ignore_errors=True))
    stats = json.loads(cold.pop("stdout"))["stats"]
    info(f"scale {scale:g}: no-op rebuild")
    noop = run_measured(base, repeat)
    if not json.loads(noop.pop("stdout"))["up_to_date"]:
        raise SystemExit("the second build was not a no-op")
    noop["call_seconds"] = min(
        json.loads(run_measured(me + ["--child", "noop-call", "--out", str(build_root)])["stdout"])["seconds"]
        for _ in range(repeat))
    records = sum(f["total"] for f in stats["files"])
    cold["records_per_s"] = records / cold["seconds"]
    floor_run["records_per_s"] = records / floor_run["seconds"]
    result = {"scale": scale, "records": records, "cold_build": cold, "noop_rebuild": noop, "floor": floor_run,
              "vs_floor": cold["seconds"] / floor_run["seconds"],
              "cpu_vs_floor": cold["cpu_seconds"] / floor_run["cpu_seconds"],
              "cores": CORES, "bound_vs_floor": cold["cpu_seconds"] / CORES / floor_run["seconds"],
              "next_iteration": next_iteration(root, work / f"iterations_{scale:g}", repeat)}
    if stages:
        info(f"scale {scale:g}: cold build stage by stage")
        stages_root = work / f"stages_{scale:g}"
        shutil.rmtree(stages_root, ignore_errors=True)
        result["stages"] = json.loads(run_measured(me + ["--child", "stages", "--out", str(stages_root)])["stdout"])
    if not baselines:
        return result

    pandas_out = work / f"pandas_{scale:g}"
    pandas_out.mkdir(exist_ok=True)
    runs = {}
    for name, extra in (("pandas", ["--out", str(pandas_out)]), ("burnqed", []), ("views-sft", [])):
        info(f"scale {scale:g}: {name}")
        runs[name] = run_measured(me + ["--child", name, *extra], repeat)
        runs[name]["counts"] = json.loads(runs[name].pop("stdout"))
        runs[name]["records_per_s"] = records / runs[name]["seconds"]
    checked, bad = check_pandas(runs["pandas"].pop("counts"), stats)
    compat = stats["sft"]["pairing_agreement"]["usable_compat"]
    loader = runs["burnqed"]
    loader.update(usable=loader["counts"]["usable"], build_usable_compat=compat,
                  agrees=loader["counts"]["usable"] == compat)
    views = runs["views-sft"]
    views["agrees"] = views.pop("counts") == loader.pop("counts")
    return {
        **result,
        "pandas": {**runs["pandas"], "counts_checked": checked, "disagreements": bad},
        "burnqed_loader": loader,
        "views_sft": views,
        "speedup_vs_pandas": runs["pandas"]["seconds"] / cold["seconds"],
        "speedup_vs_burnqed_loader": loader["seconds"] / cold["seconds"],
        "sft_speedup_vs_burnqed_loader": loader["seconds"] / views["seconds"],
    }


def next_iteration(root: Path, work: Path, repeat: int) -> dict:
    """Iteration N+1 (iter_4's files) after iteration N (all but its last two files): the
    N+1 build with the validation cache N left, against the same build cold."""
    text = MANIFEST.read_text(encoding="utf-8")
    files = [line for line in text.splitlines() if line.strip().startswith('"trajectories/')]
    earlier = work / "iteration_n.toml"
    work.mkdir(parents=True, exist_ok=True)
    earlier.write_text(text.replace("\n".join(files[-2:]) + "\n", "").replace('name = "iter_4"', 'name = "iter_n"'))
    later = [*CLI, "build-manifest", str(MANIFEST), "--data-root", str(root), "--build-dir", str(work / "b"),
             "--force", "--json"]

    def fresh() -> None:
        shutil.rmtree(work / "b", ignore_errors=True)

    def after_n() -> None:
        fresh()
        subprocess.run([*CLI, "build-manifest", str(earlier), "--data-root", str(root), "--build-dir",
                        str(work / "b"), "--json"], check=True, capture_output=True, cwd=REPO)

    cold = run_measured(later, repeat, before=fresh)
    cold_checked = len(json.loads(cold.pop("stdout"))["inputs_checked"])
    warm = run_measured(later, repeat, before=after_n)
    warm_checked = len(json.loads(warm.pop("stdout"))["inputs_checked"])
    return {"cold": cold, "after_n": warm, "checked_cold": cold_checked, "checked_after_n": warm_checked,
            "speedup": cold["seconds"] / warm["seconds"]}


def faster(ratio: float) -> str:
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower (ratio {ratio:.2f}x)"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(results: list[dict]) -> None:
    from prover_data.console import print_table

    rows = []
    for r in results:
        runs = [("the floor: read, hash, pair, dedup, unique states, write (DuckDB)", r["floor"]),
                ("cold build (all outputs, report, lock)", r["cold_build"]),
                ("iteration N+1, cold (validates every input)", r["next_iteration"]["cold"]),
                ("iteration N+1 after iteration N (validation cache)", r["next_iteration"]["after_n"]),
                ("no-op rebuild (CLI process)", r["noop_rebuild"]),
                ("no-op rebuild (build() call in-process)", {"seconds": r["noop_rebuild"]["call_seconds"]})]
        if "pandas" in r:
            runs += [("baseline 1: pandas pipeline", r["pandas"]),
                     ("baseline 2: BurnQED loader (SFT only)", r["burnqed_loader"]),
                     ("views: SFT counts only (baseline 2's work)", r["views_sft"])]
        for name, m in runs:
            rows.append((f"{r['scale']:g}", r["records"], name, f"{m['seconds']:.2f}",
                         f"{m['cpu_seconds']:.2f}" if "cpu_seconds" in m else "-",
                         f"{m['records_per_s']:,.0f}" if "records_per_s" in m else "-",
                         f"{m['peak_rss'] / GIB:.2f}" if "peak_rss" in m else "-"))
    print_table("build-manifest iter_4", ["scale", "records", "run", "seconds", "CPU s", "records/s", "peak RSS GiB"],
                rows)

    first = results[0]
    per_record = [r["cold_build"]["seconds"] / r["records"] for r in results]
    print_table("cold build by scale", ["scale", "records", "cold build s", "records/s", "peak RSS GiB",
                                        f"s per record vs scale {first['scale']:g}"],
                [(f"{r['scale']:g}", r["records"], f"{r['cold_build']['seconds']:.2f}",
                  f"{r['cold_build']['records_per_s']:,.0f}", f"{r['cold_build']['peak_rss'] / GIB:.2f}",
                  f"{p / per_record[0]:.2f}x") for r, p in zip(results, per_record)])

    for r in results:
        if "stages" in r:
            print_table(f"cold build stages, scale {r['scale']:g} (in-process build(); validation overlaps the "
                        f"trajectory views; total {r['stages']['seconds']:.2f} s)",
                        ["stage", "starts at s", "seconds", "CPU s (all threads)"],
                        [(s["stage"], f"{s['start']:.2f}", *("-" if s[k] is None else f"{s[k]:.2f}"
                                                             for k in ("seconds", "cpu_seconds")))
                         for s in r["stages"]["stages"]])

    for r in results:
        cold, noop = r["cold_build"], r["noop_rebuild"]
        print(f"scale {r['scale']:g} ({r['records']:,} records):")
        print(f"  cold build vs the floor: {r['vs_floor']:.2f}x the floor's time (target ≤ {TARGET_VS_FLOOR:g}x): "
              f"{verdict(r['vs_floor'] <= TARGET_VS_FLOOR)}")
        print(f"  CPU work: the build {cold['cpu_seconds']:.2f} CPU-s, the floor {r['floor']['cpu_seconds']:.2f} "
              f"({r['cpu_vs_floor']:.1f}x); with all {r['cores']} cores busy throughout, the build would still take "
              f"{r['bound_vs_floor']:.2f}x the floor's time")
        it = r["next_iteration"]
        print(f"  iteration N+1 after N: {faster(it['speedup'])} than cold; inputs validated "
              f"{it['checked_after_n']} instead of {it['checked_cold']}")
        if "pandas" in r:
            print(f"  cold build vs pandas: {faster(r['speedup_vs_pandas'])} (target ≥ {TARGET_VS_PANDAS}x): "
                  f"{verdict(r['speedup_vs_pandas'] >= TARGET_VS_PANDAS)}")
            print(f"  cold build vs BurnQED loader: {faster(r['speedup_vs_burnqed_loader'])} "
                  f"(target ≥ {TARGET_VS_BURNQED:g}x): {verdict(r['speedup_vs_burnqed_loader'] >= TARGET_VS_BURNQED)}"
                  " -- the loader computes the SFT pairs only")
            print(f"  SFT work alone through the views vs BurnQED loader: {faster(r['sft_speedup_vs_burnqed_loader'])}")
        print(f"  no-op rebuild: {noop['seconds']:.2f} s CLI process, {noop['call_seconds']:.3f} s build() call "
              f"(target ≤ {TARGET_NOOP_S} s, on the CLI): {verdict(noop['seconds'] <= TARGET_NOOP_S)}")
        print(f"  cold build peak RSS: {cold['peak_rss'] / GIB:.2f} GiB (target ≤ {TARGET_PEAK_RSS / GIB:g} GiB): "
              f"{verdict(cold['peak_rss'] <= TARGET_PEAK_RSS)}")
        if "pandas" in r:
            bad = r["pandas"]["disagreements"]
            loader = r["burnqed_loader"]
            agree = f"all {r['pandas']['counts_checked']} equal the build"
            print(f"  pandas counts: {agree if not bad else 'DIFFER: ' + '; '.join(bad)}")
            print(f"  BurnQED loader usable {loader['usable']:,} {'=' if loader['agrees'] else '!='} the build's "
                  f"own-state pairing {loader['build_usable_compat']:,}; the views' SFT counts "
                  f"{'equal' if r['views_sft']['agrees'] else 'DIFFER from'} the loader's")
        else:
            print("  baselines not run at this scale (--baselines-up-to)")
    if len(results) > 1:
        last = results[-1]
        growth = per_record[-1] / per_record[0]
        print(f"scale {first['scale']:g} -> {last['scale']:g}: {last['records'] / first['records']:.1f}x the records, "
              f"{last['cold_build']['seconds'] / first['cold_build']['seconds']:.1f}x the time, {growth:.2f}x the time "
              f"per record (linear: ≤ {LINEAR_TOLERANCE}x): {verdict(growth <= LINEAR_TOLERANCE)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0], help="replica scales (default: 1)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement; the best time is kept")
    ap.add_argument("--work", type=Path, default=None, help="where replicas and builds go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="reuse replicas already in --work")
    ap.add_argument("--baselines-up-to", type=float, default=1.0, metavar="SCALE",
                    help="run the baselines only up to this scale (pandas needs ~3 GiB per 650K records)")
    ap.add_argument("--stages", action="store_true",
                    help="also time one more cold build stage by stage (in-process, the CLI's stages)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON instead of tables")
    ap.add_argument("--child", choices=["floor", "pandas", "burnqed", "views-sft", "noop-call", "stages"],
                    help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run = {"floor": lambda: floor(args.root, args.out),
               "pandas": lambda: pandas_pipeline(args.root, args.out), "burnqed": lambda: burnqed_loader(args.root),
               "views-sft": lambda: views_sft(args.root), "noop-call": lambda: noop_call(args.root, args.out),
               "stages": lambda: build_stages(args.root, args.out)}
        print(json.dumps(run[args.child]()))
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = [measure(s, work, args.keep, s <= args.baselines_up_to, args.repeat, args.stages)
                   for s in args.scales]
    if args.json:
        from prover_data.console import print_json

        print_json({"results": results, "targets": {
            "speedup_vs_pandas": TARGET_VS_PANDAS, "speedup_vs_burnqed_loader": TARGET_VS_BURNQED,
            "noop_seconds": TARGET_NOOP_S, "peak_rss": TARGET_PEAK_RSS, "time_per_record_growth": LINEAR_TOLERANCE,
            "vs_floor": TARGET_VS_FLOOR}})
        return
    report(results)


if __name__ == "__main__":
    main()
