"""``prover_data.open``: a manifest's views and build outputs as DuckDB relations."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import prover_data
from prover_data.build.stages import build
from prover_data.manifest import load_manifest
from tests.conftest import REPO

DEMO = REPO / "manifests" / "demo.toml"


@pytest.fixture(scope="module")
def build_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    build(load_manifest(DEMO), root)
    return root


def test_open_gives_outputs_and_views_as_relations(build_root):
    ds = prover_data.open(DEMO, build_root=build_root)
    assert set(ds.outputs) == {"sft_train", "sft_val", "contrastive_train", "contrastive_val", "contrastive_pools",
                               "states", "preferences_train", "preferences_val", "values_train", "values_val"}
    train = ds.sft_train.pl()
    assert isinstance(train, pl.DataFrame) and train.height == ds.sql("SELECT count(*) FROM sft_train").fetchall()[0][0]
    assert train.columns == ["theorem_name", "source", "state_pp", "tactic", "state_hash", "depth"]
    traj = ds.trajectories.to_arrow_table()
    files = sorted((REPO / "data" / "sample" / "trajectories").glob("*.parquet"))
    assert isinstance(traj, pa.Table) and traj.num_rows == sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    assert ds.states.arrow().read_all().num_rows == ds.states.pl().height  # .arrow(): a batch reader
    by_source = ds.sql("SELECT source, count(*) AS n FROM trajectories GROUP BY ALL ORDER BY source").pl()
    assert by_source["n"].sum() == traj.num_rows
    assert "contrastive_stats" in dir(ds) and "sft_pairs" in ds.views()
    # the built output and the view it came from agree
    assert ds.sql("SELECT count(*) FROM sft_pairs WHERE split = 'train'").fetchall() == \
        ds.sql("SELECT count(*) FROM sft_train").fetchall()


def test_open_by_name_before_a_build_has_only_the_views(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    ds = prover_data.open("demo", build_root=tmp_path)
    assert ds.outputs == []
    assert ds.sft_pairs.pl().height > 0
    with pytest.raises(AttributeError, match="no view or output named 'sft_trian'"):
        ds.sft_trian  # noqa: B018


def test_the_imports_users_write_keep_working():
    """The package's public faces, whatever folder their code lives in."""
    from prover_data.embeddings import DenseEmbeddings, EncoderSpec, Store, export_dense
    from prover_data.embeddings.store import Store as StoreItself
    from prover_models import dpo, ebm, sft
    from prover_models.chargpt import train as chargpt_train

    assert callable(prover_data.open) and prover_data.__version__
    assert Store is StoreItself and callable(export_dense) and DenseEmbeddings and EncoderSpec
    assert all(callable(m.train) for m in (sft, dpo, ebm, chargpt_train))
