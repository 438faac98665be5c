"""Hugging Face export: every config round-trips through `datasets`, the card parses, bytes repeat."""

from __future__ import annotations

import json
import shutil
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
