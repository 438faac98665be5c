"""Hugging Face export: every config round-trips through `datasets`, the card parses, bytes repeat."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard

from prover_data.build import build
from prover_data.export import collect, write
from prover_data.manifest import load_manifest
from tests.conftest import REPO, run_cli


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("builds")
    return build(load_manifest(REPO / "manifests" / "demo.toml"), root).out_dir


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_config_round_trips_with_same_rows_and_features(demo_build, tmp_path):
    out = tmp_path / "hf"
    result = write(collect(demo_build), out, build_dir=demo_build)
    expected = {
        "sft": {"train": "sft_train", "validation": "sft_val"},
        "contrastive": {"train": "contrastive_train", "validation": "contrastive_val"},
        "states": {"train": "states"},
    }
    for config, splits in expected.items():
        assert set(result.configs[config]) == set(splits)
    for config, splits in expected.items():
        loaded = datasets.load_dataset(str(out), config)
        for split, output in splits.items():
            original = pq.read_table(demo_build / f"{output}.parquet")
            got = loaded[split].with_format("arrow")[:]
            assert got.num_rows == original.num_rows
            assert got.schema.names == original.schema.names
            assert got.cast(original.schema).equals(original), (config, split)


def test_card_yaml_parses_and_declares_configs(demo_build, tmp_path):
    out = tmp_path / "hf"
    result = write(collect(demo_build), out, build_dir=demo_build)
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "apache-2.0"
    declared = {c["config_name"]: {f["split"] for f in c["data_files"]} for c in card.data.configs}
    assert declared == {c: set(s) for c, s in result.configs.items()}
    info = {i["config_name"]: i for i in card.data.dataset_info}
    assert {s["name"]: s["num_examples"] for s in info["sft"]["splits"]} == result.configs["sft"]
    lock = json.loads((demo_build / "lock.json").read_text())
    for entry in lock["inputs"]:
        assert entry["hash"] in card.text  # the card carries every input's content hash
    assert "Contrastive Sampler Stats" in card.text and "prover-data build-manifest demo" in card.text


def test_exporting_twice_gives_identical_bytes(demo_build, tmp_path):
    write(collect(demo_build), tmp_path / "a", build_dir=demo_build)
    write(collect(demo_build), tmp_path / "b", build_dir=demo_build)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_cli_export_and_missing_build(demo_build, tmp_path):
    build_root = demo_build.parent
    proc = run_cli("export-hf", "demo", str(tmp_path / "hf"), "--build-dir", str(build_root), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["configs"]["sft"]["train"] > 0
    empty = tmp_path / "nobuild"
    empty.mkdir()
    proc = run_cli("export-hf", "demo", str(tmp_path / "hf2"), "--build-dir", str(empty))
    assert proc.returncode == 2 and "run build-manifest first" in proc.stderr
    assert not (tmp_path / "hf2").exists()


def test_eval_certificates_and_embeddings_configs_round_trip(demo_build, tmp_path):
    import numpy as np

    from prover_data.certificate_corpus import export as export_certificates
    from prover_data.certificates import split_corpus
    from prover_data.embeddings.dense import DenseEmbeddings, export_dense
    from prover_data.embeddings.fingerprint import EncoderSpec
    from prover_data.embeddings.keys import key_matrix
    from prover_data.embeddings.store import Store
    from prover_data.inputs.theorem_lists import read_theorem_list

    manifest = load_manifest(REPO / "manifests" / "demo.toml")
    certs = tmp_path / "certs"
    export_certificates(manifest, certs)
    keys = key_matrix(pq.read_table(demo_build / "states.parquet").column("state_hash"))[:50]
    vectors = np.random.default_rng(0).normal(size=(len(keys), 12)).astype(np.float16)
    store = Store.open(tmp_path / "store", create=True)
    spec = EncoderSpec(model="test-model", weights="xxh3_128:" + "ab" * 16, max_length=64)
    store.write(keys, vectors, encoder=spec, dtype="float16", tag="t")
    dense = DenseEmbeddings.open(export_dense(tmp_path / "store", "t", tmp_path / "dense"))

    out = tmp_path / "hf"
    result = write(collect(demo_build, certificates_dir=certs, embeddings=dense), out, build_dir=demo_build)
    eval_files = sorted((demo_build / "eval").glob("*.json"))
    assert eval_files and set(result.configs["eval"]) == {p.stem for p in eval_files}
    loaded = datasets.load_dataset(str(out), "eval")
    for path in eval_files:
        original = read_theorem_list(path)
        assert loaded[path.stem].with_format("arrow")[:].cast(original.schema).equals(original)
    loaded = datasets.load_dataset(str(out), "certificates")
    for split, fname in (("train", "train.txt"), ("validation", "val.txt")):
        assert loaded[split]["text"] == split_corpus((certs / fname).read_text(encoding="utf-8"))
    emb = datasets.load_dataset(str(out), "embeddings")["train"]
    feature = emb.features["embedding"]
    assert getattr(feature, "length", None) == 12 and feature.feature.dtype == "float16"
    got = emb.with_format("numpy")
    order = {bytes(h): i for i, h in enumerate(keys)}
    rows = [order[bytes(h)] for h in got["state_hash"]]
    assert sorted(rows) == list(range(len(keys)))
    np.testing.assert_array_equal(np.asarray(got["embedding"], dtype=np.float16), vectors[rows])
    card = DatasetCard.load(out / "README.md")
    assert {c["config_name"] for c in card.data.configs} == {"sft", "contrastive", "states", "eval",
                                                             "certificates", "embeddings"}
    assert '`embeddings` tags: dtype = `"float16"`' in card.text and '"test-model"' in card.text
