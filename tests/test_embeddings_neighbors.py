"""faiss nearest neighbours over a dense export: near-duplicate pairs and hard negatives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prover_data.embeddings.dense import DenseEmbeddings, export_dense
from prover_data.embeddings.fingerprint import EncoderSpec
from prover_data.embeddings.store import Store
from prover_data.embeddings.store.keys import hash_states
from tests.conftest import run_cli
from tests.embeddings_support import lean_states

pytest.importorskip("faiss", reason="faiss is the optional 'faiss' extra")

SPEC = EncoderSpec(model="test-model", weights="xxh3_128:" + "ab" * 16, max_length=64)


@pytest.fixture
def planted(tmp_path):
    """120 random states, where state 2k + 1 is a near copy of state 2k for k < 5."""
    rng = np.random.default_rng(0)
    texts = lean_states(120)
    keys = hash_states(texts)
    x = rng.normal(size=(120, 32)).astype(np.float32)
    for k in range(5):
        x[2 * k + 1] = x[2 * k] + 0.001 * rng.normal(size=32)
    Store.open(tmp_path / "s", create=True).write(keys, x, encoder=SPEC, dtype="float32")
    dense = DenseEmbeddings.open(export_dense(tmp_path / "s", "HEAD", tmp_path / "dense"))
    return dense, keys, x


def test_near_duplicates_finds_exactly_the_planted_pairs(planted):
    from prover_data.embeddings.neighbors import near_duplicates

    dense, keys, _ = planted
    pairs = near_duplicates(dense, threshold=0.999)
    got = {frozenset((bytes(a), bytes(b))) for a, b in zip(pairs.column("a_hash").to_pylist(),
                                                            pairs.column("b_hash").to_pylist())}
    assert got == {frozenset((keys[2 * k].tobytes(), keys[2 * k + 1].tobytes())) for k in range(5)}
    assert min(pairs.column("cosine").to_pylist()) >= 0.999
    assert near_duplicates(dense, threshold=0.999).equals(pairs)  # deterministic


def test_hard_negatives_are_the_exact_nearest_pool_states_by_cosine(planted):
    from prover_data.embeddings.neighbors import hard_negatives

    dense, keys, x = planted
    anchors, pool = keys[:10], keys[10:]
    got, cosines = hard_negatives(dense, anchors, pool, k=4)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = unit[:10] @ unit[10:].T
    for i in range(10):
        want = np.argsort(-sims[i], kind="stable")[:4] + 10
        assert [bytes(h) for h in got[i]] == [keys[j].tobytes() for j in want]
        np.testing.assert_allclose(cosines[i], sims[i, want - 10], rtol=1e-5, atol=1e-5)
    # an anchor inside the pool never returns itself
    own, _ = hard_negatives(dense, keys[:3], keys[:20], k=5)
    assert all(keys[i].tobytes() not in {bytes(h) for h in own[i]} for i in range(3))


def test_nearest_are_the_other_states_by_descending_cosine(planted):
    from prover_data.embeddings.neighbors import nearest

    dense, keys, x = planted
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    queries = [0, 7, 41]
    rows = dense.rows(keys[queries])
    found = nearest(dense, rows, k=3)
    for q, hits in zip(queries, found):
        sims = unit @ unit[q]
        sims[q] = -np.inf  # the query itself is never its own neighbour
        want = np.argsort(-sims, kind="stable")[:3]
        assert [bytes(dense.hashes[r]) for r, _ in hits] == [keys[j].tobytes() for j in want]
        np.testing.assert_allclose([c for _, c in hits], sims[want], rtol=1e-5, atol=1e-5)
    (everything,) = nearest(dense, rows[:1], k=500)  # k past the size: every other state, once
    assert len(everything) == len(dense) - 1 and rows[0] not in {r for r, _ in everything}
    assert [c for _, c in everything] == sorted((c for _, c in everything), reverse=True)


def test_build_hard_negatives_pair_each_positive_with_its_nearest_negatives(planted):
    import pyarrow as pa

    from prover_data.embeddings.neighbors import build_hard_negatives, hard_negatives
    from prover_data.embeddings.store.keys import to_arrow

    dense, keys, _ = planted
    positive = np.arange(120) % 3 == 0
    negative = np.arange(120) % 2 == 0  # states 0, 6, 12, ... are both
    states = pa.table({"state_hash": to_arrow(keys), "n_positive": positive.astype(np.int64),
                       "n_negative": negative.astype(np.int64)})
    found = build_hard_negatives(dense, states, k=4)
    want, cosines = hard_negatives(dense, keys[positive], keys[negative], k=4)
    assert (found.anchors, found.pool, found.k) == (40, 60, 4)
    assert found.table.column("state_hash").to_pylist() == [k.tobytes() for k in keys[positive]]
    assert found.table.column("neg_state_hashes").to_pylist() == [[bytes(h) for h in row] for row in want]
    np.testing.assert_array_equal(np.array(found.table.column("cosines").to_pylist(), np.float32), cosines)
    assert found.mean_cosine == pytest.approx(float(cosines.mean()))


def test_neighbors_command_lists_and_writes_near_duplicates(planted, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "dups.parquet"
    proc = run_cli("embeddings", "neighbors", str(tmp_path / "s"), "--duplicates", "--threshold", "0.999",
                   "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["pairs"] == 5 and len(doc["top"]) == 5
    assert pq.read_table(out).num_rows == 5
    both = run_cli("embeddings", "neighbors", str(tmp_path / "s"), "--duplicates", "--query", "⊢ x")
    assert both.returncode == 2 and "choose one of --query/--query-hash, --duplicates, --hard-negatives" in both.stderr


@pytest.mark.parametrize("flags, core", [
    ("fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl", "SkylakeX"),
    ("fpu sse2 avx avx2 fma", "Haswell"),
    ("fpu sse2 sse4_2", None),
])
def test_faiss_blas_kernels_follow_the_cpu_flags(tmp_path, flags, core):
    from prover_data.embeddings.neighbors import _openblas_core

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: {flags}\n")
    assert _openblas_core(cpuinfo) == core
    assert _openblas_core(tmp_path / "absent") is None
