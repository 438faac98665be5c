"""The versioned store: versions, tags, validation, concurrency, dense export, import, drift."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest

from prover_data.embeddings.coverage import coverage
from prover_data.embeddings.dense import DenseEmbeddings, export_dense
from prover_data.embeddings.drift import compare
from prover_data.embeddings.fingerprint import EncoderSpec
from prover_data.embeddings.store import Store
from prover_data.embeddings.store.dtypes import to_float32, to_storage
from prover_data.embeddings.store.keys import HashIndex, hash_states, key_matrix
from prover_data.errors import InputError
from prover_data.identity import state_hash
from prover_data.manifest import Embeddings
from tests.embeddings_support import lean_states, write_burnqed_embeddings

SPEC = EncoderSpec(model="test-model", weights="xxh3_128:" + "ab" * 16, max_length=64)
OTHER = EncoderSpec(model="other-model", weights="xxh3_128:" + "cd" * 16, max_length=64)


def vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_writes_make_immutable_versions_and_only_missing_is_encoded(tmp_path):
    store = Store.open(tmp_path / "s", create=True)
    texts = lean_states(50)
    keys, vecs = hash_states(texts), vectors(50)
    first = store.write(keys[:30], vecs[:30], encoder=SPEC, dtype="float16", texts=texts[:30], tag="first")
    seg_files = {p: p.read_bytes() for p in (tmp_path / "s" / "segments").rglob("*") if p.is_file()}

    assert store.missing(keys, SPEC, "float16").shape == (20, 16)
    missing_table = store.missing(pa.table({"state_hash": pa.array([bytes(k) for k in keys], pa.binary(16))}),
                                  SPEC, "float16")
    assert missing_table.num_rows == 20
    assert len(store.missing(keys, SPEC, "bfloat16")) == 50  # another dtype is not a cached vector

    second = store.write(keys[20:], vecs[20:], encoder=SPEC, dtype="float16", texts=texts[20:])
    assert (second.added_rows, second.skipped_rows) == (20, 10)
    assert second.version.parent == first.version.id and second.version.number == 2
    # nothing written before was rewritten; the pinned version still reads its 30 vectors
    assert all(p.read_bytes() == b for p, b in seg_files.items())
    pinned = store.select(store.resolve("first"), dtype="float16")[0]
    assert len(pinned) == 30
    head = store.select(store.resolve("HEAD"), dtype="float16")[0]
    assert len(head) == 50
    got = head.gather(head.rows(keys))
    np.testing.assert_array_equal(got, vecs.astype(np.float16).astype(np.float32))
    # rewriting the same vectors adds nothing and makes no version
    again = store.write(keys, vecs, encoder=SPEC, dtype="float16")
    assert not again.created and again.version.id == second.version.id


def test_fp16_store_is_raw_two_byte_values(tmp_path):
    store = Store.open(tmp_path / "s", create=True)
    n, dim = 2000, 256
    store.write(hash_states([f"s{i}" for i in range(n)]), vectors(n, dim), encoder=SPEC, dtype="float16")
    seg = next((tmp_path / "s" / "segments").iterdir())
    assert np.load(seg / "vectors.npy", mmap_mode="r").dtype == np.float16
    raw = n * dim * 2
    assert store.size_bytes() <= 1.05 * raw


@pytest.mark.parametrize("kind,mutate,expect", [
    ("zero", lambda v: v.__setitem__(3, 0.0), "zero vector"),
    ("nan", lambda v: v.__setitem__((3, 5), np.nan), "NaN"),
    ("inf", lambda v: v.__setitem__((3, 5), -np.inf), "Inf"),
    ("overflow", lambda v: v.__setitem__((3, 5), 1e6), "too large for float16"),
    # every value below float16's smallest step; the float32 vector itself is not zero (norm 1.9e-6)
    ("underflow", lambda v: v.__setitem__(3, 2.9e-8), "underflows to zero"),
])
def test_each_bad_vector_is_rejected_naming_the_state(tmp_path, kind, mutate, expect):
    store = Store.open(tmp_path / "s", create=True)
    texts = lean_states(10)
    vecs = vectors(10, 4096)
    mutate(vecs)
    with pytest.raises(InputError) as e:
        store.write(hash_states(texts), vecs, encoder=SPEC, dtype="float16", texts=texts)
    message = str(e.value)
    assert expect in message and "row 3" in message
    assert state_hash(texts[3]).hex() in message and json.dumps(texts[3][:20], ensure_ascii=False)[1:-1] in message
    assert store.head_id() is None  # nothing written
    assert not any((tmp_path / "s" / "pending").iterdir())


def test_wrong_dimension_is_rejected(tmp_path):
    store = Store.open(tmp_path / "s", create=True)
    texts = lean_states(6)
    store.write(hash_states(texts[:3]), vectors(3, 16), encoder=SPEC, dtype="float32")
    with pytest.raises(InputError) as e:
        store.write(hash_states(texts[3:]), vectors(3, 12), encoder=SPEC, dtype="float32", texts=texts[3:])
    assert "dimension 12, expected 16" in str(e.value) and state_hash(texts[3]).hex() in str(e.value)
    with pytest.raises(InputError, match="dimension 8"):
        store.write(hash_states(texts[3:]), vectors(3, 8), encoder=OTHER, dtype="float32", expected_dim=16)


def test_bfloat16_cast_is_bit_identical_to_torch():
    import torch

    x = np.concatenate([vectors(64, 32), np.array([[1.0, -2.5, 3.0039062, 65504.0, 1e-30, 3.4e38] + [0.5] * 26],
                                                  np.float32)])
    ours = to_storage(x, "bfloat16")
    theirs = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(to_float32(ours, "bfloat16"),
                                  torch.from_numpy(x).to(torch.bfloat16).float().numpy())


def test_hash_index_finds_every_key_and_only_those():
    keys = hash_states([f"k{i}" for i in range(5000)])
    index = HashIndex(keys)
    rows = index.lookup(keys[::-1])
    np.testing.assert_array_equal(rows, np.arange(5000)[::-1])
    assert (index.lookup(hash_states(["absent", "also absent"])) == -1).all()
    # keys sharing their first 8 bytes are still told apart
    twins = keys[:4].copy()
    twins[1, :8] = twins[0, :8]
    twins[2, :8] = twins[0, :8]
    np.testing.assert_array_equal(HashIndex(twins).lookup(twins[[2, 0, 1, 3]]), [2, 0, 1, 3])
    # every accepted spelling of hashes gives the same matrix
    as_bytes = [bytes(k) for k in keys[:5]]
    for form in (as_bytes, np.array(as_bytes, dtype="S16"), np.array(as_bytes, dtype=object),
                 pa.array(as_bytes, pa.binary(16)), pa.chunked_array([pa.array(as_bytes, pa.binary(16))])):
        np.testing.assert_array_equal(key_matrix(form), keys[:5])


def test_tags_move_only_forward(tmp_path):
    store = Store.open(tmp_path / "s", create=True)
    keys = hash_states([f"s{i}" for i in range(4)])
    v1 = store.write(keys[:2], vectors(2), encoder=SPEC, dtype="float32").version
    v2 = store.write(keys[2:], vectors(2, seed=1), encoder=SPEC, dtype="float32").version
    store.set_tag("t", v1.id)
    assert store.set_tag("t", "HEAD") == (v1.id, v2.id)
    with pytest.raises(InputError, match="not an ancestor"):
        store.set_tag("t", v1.id)
    assert store.set_tag("t", v1.id, force=True) == (v2.id, v1.id)
    assert store.resolve(v2.id[:6]).id == v2.id
    with pytest.raises(InputError, match="no version or tag"):
        store.resolve("nope")


def test_interrupted_commit_is_finished_by_the_next_writer(tmp_path):
    store = Store.open(tmp_path / "s", create=True)
    keys = hash_states([f"s{i}" for i in range(6)])
    v1 = store.write(keys[:2], vectors(2), encoder=SPEC, dtype="float32").version
    v2 = store.write(keys[2:4], vectors(2, seed=1), encoder=SPEC, dtype="float32").version
    (tmp_path / "s" / "HEAD").write_text(v1.id + "\n")  # as if killed between the commit file and HEAD
    v3 = store.write(keys[4:], vectors(2, seed=2), encoder=SPEC, dtype="float32").version
    assert v3.parent == v2.id and len(store.select(v3)[0]) == 6


_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from prover_data.embeddings.fingerprint import EncoderSpec
    from prover_data.embeddings.store.keys import hash_states
    from prover_data.embeddings.store import Store

    store_path, who, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    spec = EncoderSpec(model="test-model", weights="xxh3_128:" + "ab" * 16, max_length=64)
    keys = hash_states([f"state {i}" for i in range(400)])
    rng = np.random.default_rng(who)
    while time.time() < start:
        time.sleep(0.005)
    store = Store.open(store_path)
    # both writers cover overlapping ranges, in several commits each, in opposite orders
    chunks = [range(i, i + 60) for i in range(0, 360, 40)]
    for r in (chunks if who == 0 else chunks[::-1]):
        idx = np.fromiter(r, int)
        vec = rng.normal(size=(len(idx), 8)).astype(np.float32)
        vec[:, 0] = who + 10  # marks which writer made a vector
        store.write(keys[idx], vec, encoder=spec, dtype="float32")
""")


def test_two_concurrent_writer_processes_lose_and_duplicate_nothing(tmp_path):
    import time

    store = Store.open(tmp_path / "s", create=True)
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    start = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "s"), str(w), str(start)],
                              stderr=subprocess.PIPE, text=True) for w in (0, 1)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    head = store.resolve("HEAD")
    space = store.select(head)[0]
    all_keys = space.keys()
    expected = hash_states([f"state {i}" for i in range(400)])[:400]
    written = expected[np.unique(np.concatenate([np.arange(i, i + 60) for i in range(0, 360, 40)]))]
    assert len(all_keys) == len(written)  # no duplicates
    assert HashIndex(all_keys).contains(written).all()  # nothing lost
    makers = space.gather(space.rows(written))[:, 0]
    assert set(np.unique(makers)) <= {10.0, 11.0}
    # versions form one chain, each commit's parent the previous HEAD
    versions = store.versions()
    assert [v.number for v in versions] == list(range(1, len(versions) + 1))
    assert all(b.parent == a.id for a, b in zip(versions, versions[1:]))


def test_dense_export_gather_equals_direct_lookup_and_is_deterministic(tmp_path):
    store = Store.open(tmp_path / "s", create=True)
    texts = lean_states(300)
    keys, vecs = hash_states(texts), vectors(300, 24)
    for lo in range(0, 300, 70):  # several segments and versions
        store.write(keys[lo:lo + 70], vecs[lo:lo + 70], encoder=SPEC, dtype="bfloat16")
    out = export_dense(tmp_path / "s", "HEAD", tmp_path / "dense", hashes=keys[::-1])
    dense = DenseEmbeddings.open(out)
    assert (len(dense), dense.dim, dense.dtype, dense.version) == (300, 24, "bfloat16", store.head_id())
    assert dense.encoder["model"] == "test-model"
    rng = np.random.default_rng(1)
    sample = rng.integers(0, 300, size=(256, 8))  # 256 positives x (1 + 7)
    rows = dense.rows(keys[sample.reshape(-1)])
    got = dense.gather(rows)
    want = to_float32(to_storage(vecs[sample.reshape(-1)], "bfloat16"), "bfloat16")
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32 and got.shape == (2048, 24)
    assert dense.raw().dtype == np.uint16
    with pytest.raises(InputError, match="2 of 3 requested states have no vector"):
        dense.rows(np.concatenate([keys[:1], hash_states(["x", "y"])]))
    # same version, same states: byte-identical export
    again = export_dense(tmp_path / "s", "HEAD", tmp_path / "dense2", hashes=keys)
    for name in ("vectors.npy", "hashes.npy"):
        assert (out / name).read_bytes() == (again / name).read_bytes()


def test_training_read_refuses_a_mix_of_dtypes_or_encoders(tmp_path):
    store = Store.open(tmp_path / "s", create=True)
    keys = hash_states([f"s{i}" for i in range(20)])
    store.write(keys[:10], vectors(10), encoder=SPEC, dtype="bfloat16")
    store.write(keys[10:], vectors(10, seed=1), encoder=SPEC, dtype="float16")
    with pytest.raises(InputError, match="bfloat16 and float16|float16 and bfloat16"):
        export_dense(tmp_path / "s", None, tmp_path / "d")
    assert not (tmp_path / "d").exists()
    # an explicit choice, or an explicit cast of disjoint states, is allowed
    assert len(DenseEmbeddings.open(export_dense(tmp_path / "s", None, tmp_path / "d", dtype="float16"))) == 10
    cast = DenseEmbeddings.open(export_dense(tmp_path / "s", None, tmp_path / "c", cast="float32"))
    assert (len(cast), cast.dtype) == (20, "float32")
    # the same states in both dtypes cannot be combined even with a cast
    store.write(keys[:10], vectors(10, seed=2), encoder=SPEC, dtype="float16")
    with pytest.raises(InputError, match="more than one"):
        export_dense(tmp_path / "s", None, tmp_path / "c2", cast="float32")
    store.write(keys[:10], vectors(10, seed=3), encoder=OTHER, dtype="float16")
    with pytest.raises(InputError, match="mixes encoders"):
        export_dense(tmp_path / "s", None, tmp_path / "d3", dtype="float16")
    only = export_dense(tmp_path / "s", None, tmp_path / "d3", dtype="float16", encoder="other-model")
    assert DenseEmbeddings.open(only).encoder["model"] == "other-model"


def test_coverage_counts_only_the_manifest_encoder_and_dtype(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights")
    emb = Embeddings(store="s", encoder=str(model), dtype="float16", max_length=64)
    from prover_data.embeddings.fingerprint import spec_from_manifest

    spec = spec_from_manifest(emb)
    assert spec.weights and spec.model == str(model)
    keys = hash_states([f"s{i}" for i in range(100)])
    assert coverage(tmp_path / "s", emb, keys, encoder=spec).missing == 100  # no store yet
    store = Store.open(tmp_path / "s", create=True)
    store.write(keys[:76], vectors(76), encoder=spec, dtype="float16")
    store.write(keys, vectors(100), encoder=spec, dtype="bfloat16")
    store.write(keys, vectors(100), encoder=SPEC, dtype="float16")
    cov = coverage(tmp_path / "s", emb, keys, encoder=spec)
    assert (cov.total, cov.cached, cov.missing, cov.version, cov.dim) == (100, 76, 24, store.head_id(), 16)
    (model / "model.safetensors").write_bytes(b"retrained")  # same path, new weights: nothing cached
    assert coverage(tmp_path / "s", emb, keys, encoder=spec_from_manifest(emb)).cached == 0


def test_import_of_a_burnqed_parquet(tmp_path):
    texts = lean_states(40)
    vecs = vectors(40, 12).astype(np.float64)
    vecs[7] = 0.0  # SGLang's zero vector
    path = write_burnqed_embeddings(tmp_path / "embeddings.parquet", texts, vecs)
    from prover_data.embeddings.burnqed_import import import_burnqed

    store = Store.open(tmp_path / "s", create=True)
    with pytest.raises(InputError) as e:
        import_burnqed(store, path, encoder=SPEC, dtype="float16", batch_rows=16)
    assert "row 7" in str(e.value) and state_hash(texts[7]).hex() in str(e.value)
    result = import_burnqed(store, path, encoder=SPEC, dtype="float16", batch_rows=16, drop_invalid=True, tag="bq")
    assert (result.rows, result.imported, result.dropped, result.dim) == (40, 39, 1, 12)
    space = store.select(store.resolve("bq"), dtype="float16")[0]
    keys = hash_states(texts)
    ok = np.arange(40) != 7
    np.testing.assert_array_equal(space.gather(space.rows(keys[ok])), vecs[ok].astype(np.float16).astype(np.float32))
    assert store.missing(keys, SPEC, "float16").tolist() == [keys[7].tolist()]
    # importing again adds nothing; a different dtype tag is a separate set of vectors
    assert import_burnqed(store, path, encoder=SPEC, dtype="float16", drop_invalid=True).imported == 0
    assert import_burnqed(store, path, encoder=SPEC, dtype="bfloat16", drop_invalid=True).imported == 39


def test_compare_measures_per_state_cosine(tmp_path):
    store = Store.open(tmp_path / "s", create=True)
    keys = hash_states([f"s{i}" for i in range(200)])
    base = vectors(200, 64)
    noisy = base + np.random.default_rng(5).normal(scale=0.3, size=base.shape).astype(np.float32)
    store.write(keys, base, encoder=SPEC, dtype="float32")
    store.write(keys[:150], base[:150], encoder=SPEC, dtype="float16")
    store.write(keys, noisy, encoder=SPEC, dtype="bfloat16")
    same, _ = compare(store, "HEAD:float32", "HEAD:float16", threshold=0.999)
    assert (same.common, same.only_a, same.only_b, same.below) == (150, 50, 0, 0) and same.min > 0.9999
    drift, cos = compare(store, "HEAD:float32", "HEAD:bfloat16", threshold=0.99)
    want = (base * noisy).sum(1) / np.linalg.norm(base, axis=1) / np.linalg.norm(noisy, axis=1)
    assert drift.common == 200 and drift.below == 200
    assert abs(drift.mean - want.mean()) < 1e-3 and drift.worst[0]["cosine"] == pytest.approx(want.min(), abs=1e-3)
    with pytest.raises(InputError, match="selects 3 spaces"):
        compare(store, "HEAD", "HEAD:float16")
