"""Hugging Face export: every config round-trips through `datasets`, the card parses, bytes repeat."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard

from prover_data.build.files import Build
from prover_data.build.stages import build
from prover_data.export import collect, write
from prover_data.manifest import load_manifest
from tests.conftest import REPO, run_cli


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory) -> Build:
    root = tmp_path_factory.mktemp("builds")
    manifest = load_manifest(REPO / "manifests" / "demo.toml")
    build(manifest, root)
    return Build(manifest, root)


# Every load reads into a cache of its own: `datasets` keys its default cache by the
# folder's path, so a stale copy from an earlier run could answer for this one.


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_config_round_trips_with_same_rows_and_features(demo_build, tmp_path):
    out = tmp_path / "hf"
    result = write(collect(demo_build), out, build=demo_build)
    expected = {
        "sft": {"train": "sft_train", "validation": "sft_val"},
        "contrastive": {"train": "contrastive_train", "validation": "contrastive_val"},
        "states": {"train": "states"},
        "preferences": {"train": "preferences_train", "validation": "preferences_val"},
        "values": {"train": "values_train", "validation": "values_val"},
    }
    for config, splits in expected.items():
        assert set(result.configs[config]) == set(splits)
    for config, splits in expected.items():
        loaded = datasets.load_dataset(str(out), config, cache_dir=str(tmp_path / "hf-cache"))
        for split, output in splits.items():
            original = pq.read_table(demo_build.output(output))
            got = loaded[split].with_format("arrow")[:]
            if config == "sft":  # the build's columns, then TRL's prompt and completion
                got = got.select(original.schema.names)
            assert got.num_rows == original.num_rows > 0, (config, split)
            assert got.schema.names == original.schema.names
            assert got.cast(original.schema).equals(original), (config, split)


def test_trl_reads_the_sft_and_preference_configs_as_they_are(demo_build, tmp_path):
    from trl.data_utils import is_conversational, maybe_extract_prompt, unpair_preference_dataset

    from prover_models.data import format_prompt

    out = tmp_path / "hf"
    write(collect(demo_build), out, build=demo_build)
    sft = datasets.load_dataset(str(out), "sft", cache_dir=str(tmp_path / "hf-cache"))["train"]
    row = sft[0]
    assert row["prompt"] == format_prompt(row["state_pp"]) and row["completion"] == row["tactic"]
    assert not is_conversational(row)
    prefs = datasets.load_dataset(str(out), "preferences", cache_dir=str(tmp_path / "hf-cache"))
    assert prefs["train"].num_rows == pq.read_metadata(demo_build.output("preferences_train")).num_rows
    first = prefs["train"][0]
    assert maybe_extract_prompt(first) == first and not is_conversational(first)
    unpaired = unpair_preference_dataset(prefs["validation"])
    assert unpaired.num_rows == 2 * prefs["validation"].num_rows
    assert {"prompt", "completion", "label"} <= set(unpaired.column_names)


def test_card_yaml_parses_and_declares_configs(demo_build, tmp_path):
    out = tmp_path / "hf"
    result = write(collect(demo_build), out, build=demo_build)
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "apache-2.0"
    declared = {c["config_name"]: {f["split"] for f in c["data_files"]} for c in card.data.configs}
    assert declared == {c: set(s) for c, s in result.configs.items()}
    info = {i["config_name"]: i for i in card.data.dataset_info}
    assert {s["name"]: s["num_examples"] for s in info["sft"]["splits"]} == result.configs["sft"]
    lock = json.loads(demo_build.lock_file.read_text())
    for entry in lock["inputs"]:
        assert entry["hash"] in card.text  # the card carries every input's content hash
    assert "Contrastive Sampler Stats" in card.text and "prover-data build-manifest demo" in card.text


def test_exporting_twice_gives_identical_bytes(demo_build, tmp_path):
    write(collect(demo_build), tmp_path / "a", build=demo_build)
    write(collect(demo_build), tmp_path / "b", build=demo_build)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_cli_export_and_missing_build(demo_build, tmp_path):
    build_root = demo_build.root
    proc = run_cli("export-hf", "demo", str(tmp_path / "hf"), "--build-dir", str(build_root), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["configs"]["sft"]["train"] > 0
    empty = tmp_path / "nobuild"
    empty.mkdir()
    proc = run_cli("export-hf", "demo", str(tmp_path / "hf2"), "--build-dir", str(empty))
    assert proc.returncode == 2 and "run prover-data build-manifest demo first" in proc.stderr
    assert not (tmp_path / "hf2").exists()


def test_eval_certificates_and_embeddings_configs_round_trip(demo_build, tmp_path):
    import numpy as np

    from prover_data.certificates.corpus import export as export_certificates
    from prover_data.certificates.grammar import split_corpus
    from prover_data.embeddings.dense import DenseEmbeddings, export_dense
    from prover_data.embeddings.fingerprint import EncoderSpec
    from prover_data.embeddings.store import Store
    from prover_data.embeddings.store.keys import key_matrix
    from prover_data.inputs.theorem_lists import read_theorem_list

    manifest = load_manifest(REPO / "manifests" / "demo.toml")
    certs = tmp_path / "certs"
    export_certificates(manifest, certs)
    keys = key_matrix(pq.read_table(demo_build.output("states")).column("state_hash"))[:50]
    vectors = np.random.default_rng(0).normal(size=(len(keys), 12)).astype(np.float16)
    store = Store.open(tmp_path / "store", create=True)
    spec = EncoderSpec(model="test-model", weights="xxh3_128:" + "ab" * 16, max_length=64)
    store.write(keys, vectors, encoder=spec, dtype="float16", tag="t")
    dense = DenseEmbeddings.open(export_dense(tmp_path / "store", "t", tmp_path / "dense"))

    out = tmp_path / "hf"
    result = write(collect(demo_build, certificates_dir=certs, embeddings=dense), out, build=demo_build)
    eval_files = demo_build.eval_sets()
    assert eval_files and set(result.configs["eval"]) == {p.stem for p in eval_files}
    loaded = datasets.load_dataset(str(out), "eval", cache_dir=str(tmp_path / "hf-cache"))
    for path in eval_files:
        original = read_theorem_list(path)
        assert loaded[path.stem].with_format("arrow")[:].cast(original.schema).equals(original)
    loaded = datasets.load_dataset(str(out), "certificates", cache_dir=str(tmp_path / "hf-cache"))
    for split, fname in (("train", "train.txt"), ("validation", "val.txt")):
        assert loaded[split]["text"] == split_corpus((certs / fname).read_text(encoding="utf-8"))
    emb = datasets.load_dataset(str(out), "embeddings", cache_dir=str(tmp_path / "hf-cache"))["train"]
    feature = emb.features["embedding"]
    assert getattr(feature, "length", None) == 12 and feature.feature.dtype == "float16"
    got = emb.with_format("numpy")
    order = {bytes(h): i for i, h in enumerate(keys)}
    rows = [order[bytes(h)] for h in got["state_hash"]]
    assert sorted(rows) == list(range(len(keys)))
    np.testing.assert_array_equal(np.asarray(got["embedding"], dtype=np.float16), vectors[rows])
    card = DatasetCard.load(out / "README.md")
    assert {c["config_name"] for c in card.data.configs} == {"sft", "contrastive", "states", "preferences", "values",
                                                             "eval", "certificates", "embeddings"}
    assert '`embeddings` tags: dtype = `"float16"`' in card.text and '"test-model"' in card.text
