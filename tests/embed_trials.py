"""kill -9 and concurrency trials of ``prover-data embed``, shared by tests and benchmarks/reliability.py.

A trial runs the real CLI in subprocesses on a small project: a tiny Llama encoder
built from a config (``embeddings_support.tiny_llama``) and a build's ``states.parquet``.

* crash: a first ``embed --limit`` commits version A; a second ``embed`` (one vector
  per flushed segment) is killed with SIGKILL at a random moment. Clean means: version A
  is still HEAD or a complete newer version is, every key of HEAD reads back, no
  temporary file is visible in a version, and a rerun encodes exactly the states that
  were neither committed nor kept as finished segments, then covers every state.
* concurrency: two ``embed`` processes over overlapping state sets (two manifests
  naming one store) start together. Clean means: both exit 0 (or one is told to retry
  clearly), the final HEAD holds every key of both sets exactly once, and the vectors
  of the shared states are the same in both runs' results.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prover_data.embeddings.store import Store
from prover_data.embeddings.store.keys import hash_states
from tests.embeddings_support import lean_states, tiny_llama, write_manifest, write_states

CLI = [sys.executable, "-m", "prover_data"]


@dataclass
class EmbedTrial:
    clean: bool
    killed: bool = False
    notes: list[str] = field(default_factory=list)


def _project(root: Path, model: Path, name: str, texts: list[str]) -> Path:
    """Manifest NAME over ``root`` (its store is ``root/store``) with a build of ``texts``."""
    write_manifest(root, name, encoder=str(model), dim=32)
    write_states(root / "build" / name / "states.parquet", texts)
    return root


def _embed(root: Path, name: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PROVER_DATA_MANIFESTS": str(root), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(CLI + ["embed", name, "--build-dir", str(root / "build"), "--device", "cpu",
                                   "--json", *args], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _done(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"embed exited {proc.returncode}: {err[-2000:]}")
    return json.loads(out)


def _heads_readable(store_path: Path, keys: np.ndarray) -> tuple[bool, int, str]:
    """(every key of HEAD reads back finite, how many of ``keys`` HEAD holds, note)."""
    store = Store.open(store_path)
    version = store.resolve("HEAD")
    if version is None:
        return True, 0, ""
    held = 0
    for space in store.select(version):
        present = space.index.contains(keys)
        held += int(present.sum())
        values = space.gather(space.rows(keys[present]))
        if not np.isfinite(values).all() or (np.abs(values).sum(axis=1) == 0).any():
            return False, held, "HEAD holds a non-finite or zero vector"
    visible_tmp = [p for p in store_path.rglob("*") if p.name.startswith(".tmp") and "pending" not in p.parts]
    return not visible_tmp, held, f"temporary files visible: {visible_tmp[:3]}" if visible_tmp else ""


def embed_crash_trials(work: Path, n: int, *, seed: int = 0, states: int = 160) -> list[EmbedTrial]:
    work.mkdir(parents=True, exist_ok=True)
    model = tiny_llama(work / "model", lean_states(200, seed=9, long=True))
    rng = random.Random(seed)
    out = []
    for i in range(n):
        root = work / f"trial_{i:02d}"
        root.mkdir()
        texts = lean_states(states, seed=100 + i, long=True)
        keys = hash_states(texts)
        _project(root, model, "emb", texts)
        first = _done(_embed(root, "emb", "--limit", "20"))
        trial = EmbedTrial(clean=True)
        proc = _embed(root, "emb", "--batch-size", "2", "--flush-every", "1")
        time.sleep(rng.uniform(0.5, 4.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            trial.killed = True
        proc.communicate()
        ok, held, note = _heads_readable(root / "store", keys)
        if not ok or held < first["added"]:
            trial.clean = False
            trial.notes.append(note or f"HEAD lost committed vectors: {held} < {first['added']}")
        store = Store.open(root / "store")
        kept = sum(seg.rows for _, alive, seg in store.pending() if not alive)
        rerun = _done(_embed(root, "emb", "--batch-size", "8"))
        if rerun["missing_after"] != 0:
            trial.clean = False
            trial.notes.append(f"rerun left {rerun['missing_after']} states missing")
        if rerun["encoded"] != states - rerun["cached_before"] - rerun["resumed"] or rerun["resumed"] != kept:
            trial.clean = False
            trial.notes.append(f"rerun redid work: encoded {rerun['encoded']}, cached {rerun['cached_before']}, "
                               f"resumed {rerun['resumed']} of {kept} kept")
        out.append(trial)
    return out


def embed_concurrency_trials(work: Path, n: int, *, states: int = 80) -> list[EmbedTrial]:
    work.mkdir(parents=True, exist_ok=True)
    model = tiny_llama(work / "model", lean_states(200, seed=9, long=True))
    out = []
    for i in range(n):
        root = work / f"trial_{i:02d}"
        root.mkdir()
        texts = lean_states(states + states // 2, seed=300 + i, long=True)
        a, b = texts[:states], texts[states // 2:]  # the middle half is shared
        _project(root, model, "a", a)
        _project(root, model, "b", b)
        procs = [_embed(root, name, "--batch-size", "4", "--flush-every", "2") for name in ("a", "b")]
        trial = EmbedTrial(clean=True)
        for p in procs:
            o, e = p.communicate(timeout=300)
            if p.returncode != 0:
                trial.clean = False
                trial.notes.append(f"embed exited {p.returncode}: {e[-500:]}")
        store = Store.open(root / "store")
        keys = hash_states(texts)
        (space,) = store.select(store.resolve("HEAD"))
        present = space.index.contains(keys)
        if not present.all():
            trial.clean = False
            trial.notes.append(f"{int((~present).sum())} keys lost")
        if len(space) != len(set(k.tobytes() for k in keys)):
            trial.clean = False
            trial.notes.append(f"HEAD holds {len(space)} vectors for {len(keys)} states: duplicates")
        out.append(trial)
    return out
