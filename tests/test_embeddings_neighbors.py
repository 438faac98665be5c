"""faiss nearest neighbours over a dense export: near-duplicate pairs and hard negatives."""

from __future__ import annotations

import numpy as np
import pytest

from prover_data.embeddings.dense import DenseEmbeddings, export_dense
from prover_data.embeddings.fingerprint import EncoderSpec
from prover_data.embeddings.keys import hash_states
from prover_data.embeddings.store import Store
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
