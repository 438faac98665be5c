"""EBM trainer: BurnQED's head, loss, metrics and schedule; data path; learning; exact resume."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from prover_data.embeddings import DenseEmbeddings, EncoderSpec, Store, export_dense
from prover_data.errors import InputError
from prover_data.identity import state_hash
from prover_data.manifest import EBMTrainer, Embeddings
from prover_data.schema import CONTRASTIVE
from prover_models import ebm
from prover_models.data import ContrastiveSamples, batch_indices, contrastive_loader
from prover_models.schedule import learning_rate

K = 7


ENCODER = EncoderSpec(model="test/encoder", max_length=2048)


def dense_export(tmp: Path, hashes: list[bytes], vectors: np.ndarray, *, cast: str | None = None) -> DenseEmbeddings:
    """Vectors written to a real embedding store and exported as trainers read them."""
    store = Store.open(tmp / "store", create=True)
    store.write(hashes, vectors, encoder=ENCODER, dtype="float32", tag="t")
    out = tmp / ("dense" if cast is None else f"dense_{cast}")
    return DenseEmbeddings.open(export_dense(tmp / "store", "t", out, cast=cast))


def planted(tmp: Path, n_pos: int = 300, n_neg: int = 900, d: int = 16, shift: float = 2.0, scale: float = 0.25,
            seed: int = 0):
    """States whose embeddings carry a real signal: positives shifted along one direction.

    Noise is N(0, scale^2) per dimension -- about what the report's norms (10-15 at d =
    4096) imply for mean-pooled LLM states -- and the shift is ``shift`` noise
    standard deviations, so a head can rank a positive first about 2/3 of the time.
    """
    rng = np.random.default_rng(seed)
    pos = [state_hash(f"⊢ pos {i}") for i in range(n_pos)]
    neg = [state_hash(f"⊢ neg {i}") for i in range(n_neg)]
    direction = rng.standard_normal(d)
    direction /= np.linalg.norm(direction)
    x = scale * rng.standard_normal((n_pos + n_neg, d))
    x[:n_pos] += shift * scale * direction
    return pos, neg, dense_export(tmp, pos + neg, x.astype(np.float32))


def contrastive_table(pos: list[bytes], neg: list[bytes], n: int, seed: int, k: int = K) -> pa.Table:
    rng = np.random.default_rng(seed)
    rows = [{"sample_id": i, "round": 1 + i % 2, "theorem_name": f"thm_{seed}_{i}", "source": "iter_1",
             "pos_state_hash": pos[rng.integers(len(pos))], "pos_remaining_depth": int(rng.integers(-1, 6)),
             "neg_state_hashes": [neg[j] for j in rng.integers(len(neg), size=k)],
             "neg_tiers": ["hard", "hard", "medium", "medium", "medium", "easy", "easy"][:k]}
            for i in range(n)]
    return pa.Table.from_pylist(rows, schema=CONTRASTIVE)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny heads run fastest on one thread (and do not fight the other tests for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def data(tmp_path):
    pos, neg, emb = planted(tmp_path)
    pq.write_table(contrastive_table(pos[:240], neg[:700], 400, seed=1), tmp_path / "contrastive_train.parquet")
    pq.write_table(contrastive_table(pos[240:], neg[700:], 96, seed=2), tmp_path / "contrastive_val.parquet")
    train = ContrastiveSamples(tmp_path / "contrastive_train.parquet", emb, k=K)
    val = ContrastiveSamples(tmp_path / "contrastive_val.parquet", emb, k=K)
    return train, val, emb


SMALL = EBMTrainer(hidden_dims=(32, 16, 8), batch_size=32, learning_rate=2e-3, warmup_steps=5, steps=60,
                   log_every=10, eval_every=10, val_batches=2, seed=3)


# --------------------------------------------------------------------------- BurnQED's definitions


def test_energy_head_has_burnqed_shape_and_parameter_count():
    head = ebm.EnergyHead(ebm.EnergyHeadConfig.from_trainer(EBMTrainer(), 4096))
    # energy_head.rs test_parameter_count: 4096*2048+2048 + 2048*1024+1024 + 1024*512+512 + 512 + 1
    assert sum(p.numel() for p in head.parameters()) == 11_014_145
    assert head.out.bias is None and head.log_temperature.item() == pytest.approx(-2.3)
    assert head(torch.randn(3, 4096)).shape == (3,)
    # Kaiming-normal init: std sqrt(2 / fan_in) for the first layer
    assert head.hidden[0].weight.std().item() == pytest.approx(math.sqrt(2 / 4096), rel=0.02)


def test_spectral_norm_bounds_each_layer():
    head = ebm.EnergyHead(ebm.EnergyHeadConfig(64, (32, 16), dropout=0.0, spectral_norm=True))
    head.train()
    for _ in range(20):  # power iterations converge over forward passes
        head(torch.randn(8, 64))
    head.eval()
    for layer in head.hidden:
        assert torch.linalg.matrix_norm(layer.weight, ord=2).item() == pytest.approx(1.0, abs=0.05)


def test_temperature_scales_by_clamped_exp():
    head = ebm.EnergyHead(ebm.EnergyHeadConfig(8, (4,), init_log_temperature=math.log(2.0)))
    assert ebm.info_nce_loss is not None
    assert head.temperature_scale(torch.tensor([4.0])).item() == pytest.approx(2.0)
    head.log_temperature.data.fill_(-50.0)  # clamped at -5
    assert head.temperature_scale(torch.tensor([1.0])).item() == pytest.approx(math.exp(5.0), rel=1e-5)


def test_info_nce_values_and_gradient_direction():
    zeros_pos, zeros_neg = torch.zeros(2, requires_grad=True), torch.zeros(2, K, requires_grad=True)
    loss = ebm.info_nce_loss(zeros_pos, zeros_neg)
    assert loss.item() == pytest.approx(math.log(K + 1))  # no separation: ln(K + 1)
    loss.backward()
    assert (zeros_pos.grad > 0).all() and (zeros_neg.grad < 0).all()  # descent lowers pos, raises neg
    assert ebm.info_nce_loss(torch.full((2,), -10.0), torch.full((2, K), 10.0)).item() < 1e-6
    assert ebm.info_nce_loss(torch.full((2,), 10.0), torch.full((2, K), -10.0)).item() > 19


def test_rank_is_strict_and_gap_is_neg_minus_pos():
    pos = torch.tensor([0.0, 1.0, -1.0, 2.0])
    neg = torch.tensor([[1.0, 2.0], [1.0, 3.0], [0.0, 5.0], [3.0, 1.0]])  # ties count as misses
    gap, rank, pos_mean, neg_mean = ebm.batch_metrics(pos, neg).tolist()
    assert rank == pytest.approx(0.5)
    assert gap == pytest.approx(neg.mean().item() - pos.mean().item())
    assert (pos_mean, neg_mean) == pytest.approx((0.5, 2.0))


def test_depth_regression_masks_unknown_depths():
    energy = torch.tensor([1.0, 0.5, 999.0, 0.0])
    depth = torch.tensor([4, 2, -1, 0])
    # targets depth / max depth = [1, .5, -, 0]: a perfect fit, the unknown 999 ignored
    assert ebm.depth_regression_loss(energy, depth).item() == pytest.approx(0.0)
    assert ebm.depth_regression_loss(torch.ones(3), torch.tensor([-1, -1, -1])).item() == 0.0


def test_learning_rate_reproduces_the_reports_lr_column():
    report = ["3.00e-8", "2.98e-5", "2.82e-5", "2.52e-5", "2.10e-5", "1.62e-5", "1.13e-5", "6.80e-6", "3.16e-6",
              "8.13e-7"]
    cfg = EBMTrainer()  # iter_4: 3e-5, 20,000 steps, warmup 1,000
    rates = [learning_rate(s, peak=cfg.learning_rate, warmup_steps=cfg.warmup_steps, total_steps=cfg.steps)
             for s in range(0, 20000, 2000)]  # as train-ebm calls it
    assert [ebm.sci(r) for r in rates] == report


# --------------------------------------------------------------------------- data path


def test_batches_are_vectorized_gathers_of_the_right_rows(data):
    train, _, emb = data
    idx = np.array([5, 0, 399, 5])
    batch = train[idx]
    assert batch["pos"].shape == (4, emb.dim) and batch["neg"].shape == (4, K, emb.dim)
    table = pq.read_table(train.path).sort_by("sample_id")
    for j, i in enumerate(idx):
        pos_row = emb.rows(np.frombuffer(table["pos_state_hash"][int(i)].as_py(), np.uint8)[None])[0]
        np.testing.assert_array_equal(batch["pos"][j], emb.raw()[pos_row])
        negs = np.frombuffer(b"".join(table["neg_state_hashes"][int(i)].as_py()), np.uint8).reshape(-1, 16)
        np.testing.assert_array_equal(batch["neg"][j], emb.raw()[emb.rows(negs)])
    assert train[7]["neg"].shape == (K, emb.dim)


def test_batch_order_is_a_pure_seeded_function_of_the_step():
    n, b = 50, 16
    first_epoch = np.concatenate([batch_indices(n, b, 7, s) for s in range(4)])[:n]
    assert sorted(first_epoch.tolist()) == list(range(n))  # an epoch is a permutation
    assert np.array_equal(batch_indices(n, b, 7, 3), batch_indices(n, b, 7, 3))
    assert not np.array_equal(batch_indices(n, b, 7, 0), batch_indices(n, b, 8, 0))
    loader = contrastive_loader(_Echo(n), b, 7, start=2, stop=5)
    assert [x.tolist() for x in loader] == [batch_indices(n, b, 7, s).tolist() for s in (2, 3, 4)]


class _Echo(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return np.asarray(index)


def test_row_order_of_the_file_does_not_change_the_data(tmp_path, data):
    train, _, emb = data
    table = pq.read_table(train.path)
    shuffled = table.take(np.random.default_rng(0).permutation(table.num_rows))
    pq.write_table(shuffled, tmp_path / "shuffled.parquet")
    again = ContrastiveSamples(tmp_path / "shuffled.parquet", emb, k=K)
    np.testing.assert_array_equal(again.neg_rows, train.neg_rows)
    np.testing.assert_array_equal(again.sample(20, 1), train.sample(20, 1))


def test_missing_embedding_wrong_k_and_bad_schema_are_input_errors(tmp_path, data):
    train, _, emb = data
    pos, neg, _ = planted(tmp_path / "again")
    unknown = [state_hash("⊢ never encoded")]
    pq.write_table(contrastive_table(unknown, neg, 3, seed=5), tmp_path / "missing.parquet")
    with pytest.raises(InputError) as e:
        ContrastiveSamples(tmp_path / "missing.parquet", emb, k=K)
    assert "missing.parquet" in str(e.value) and "states referenced by these samples have no vector" in str(e.value)
    assert "they appear in 3 of 3 samples" in str(e.value)  # each count names its own unit
    assert state_hash("⊢ never encoded").hex() in str(e.value)  # the store names the state

    table = contrastive_table(pos, neg, 6, seed=6, k=K).to_pylist()
    table[4]["neg_state_hashes"] = table[4]["neg_state_hashes"][:3]
    pq.write_table(pa.Table.from_pylist(table, schema=CONTRASTIVE), tmp_path / "short.parquet")
    with pytest.raises(InputError) as e:
        ContrastiveSamples(tmp_path / "short.parquet", emb, k=K)
    assert "row 4" in str(e.value) and "neg_state_hashes" in str(e.value) and "found 3" in str(e.value)

    pq.write_table(pq.read_table(train.path).drop_columns(["pos_state_hash"]), tmp_path / "nocol.parquet")
    with pytest.raises(InputError, match="pos_state_hash"):
        ContrastiveSamples(tmp_path / "nocol.parquet", emb, k=K)


def test_embeddings_must_match_the_manifest(tmp_path):
    pos, neg, fp32 = planted(tmp_path, n_pos=10, n_neg=10)
    bf16 = DenseEmbeddings.open(export_dense(tmp_path / "store", "t", tmp_path / "bf16", cast="bfloat16"))
    spec = Embeddings(store="store", encoder="test/encoder", dtype="float32", dim=16)
    assert ebm.check_embeddings(fp32, spec, source="dense/", manifest_file="m.toml") == []
    with pytest.raises(InputError) as e:  # the report's bf16-trained / fp16-served incident
        ebm.check_embeddings(bf16, spec, source="bf16/", manifest_file="m.toml")
    assert "bfloat16" in str(e.value) and "float32" in str(e.value) and "--allow-dtype-cast" in str(e.value)
    warnings = ebm.check_embeddings(bf16, spec, source="bf16/", manifest_file="m.toml", allow_dtype_cast=True)
    assert len(warnings) == 1 and "bfloat16" in warnings[0]
    with pytest.raises(InputError, match="other/model"):  # no flag makes another encoder's vectors fit
        ebm.check_embeddings(bf16, dataclasses.replace(spec, encoder="other/model"), source="bf16/",
                             manifest_file="m.toml", allow_dtype_cast=True)
    with pytest.raises(InputError, match="max_length 2048"):
        ebm.check_embeddings(fp32, dataclasses.replace(spec, max_length=256), source="d", manifest_file="m.toml")
    with pytest.raises(InputError, match="dimension"):
        ebm.check_embeddings(fp32, dataclasses.replace(spec, dim=4096), source="d", manifest_file="m.toml")
    with pytest.raises(InputError, match=r"\[embeddings\]"):
        ebm.check_embeddings(fp32, None, source="d", manifest_file="m.toml")


def test_trainer_settings_are_checked_with_manifest_keys():
    bad = dataclasses.replace(SMALL, batch_size=0, dropout=1.5, hidden_dims=())
    with pytest.raises(InputError) as e:
        ebm.check_trainer(bad, "iter_4.toml")
    text = str(e.value)
    assert "train.ebm.batch_size" in text and "train.ebm.dropout" in text and "train.ebm.hidden_dims" in text


# --------------------------------------------------------------------------- training


def test_training_separates_planted_positives(tmp_path, data):
    train, val, _ = data
    summary = ebm.train(SMALL, train, val, tmp_path / "run")
    first, last = summary.log[0], summary.log[-1]
    assert [r["step"] for r in summary.log] == [0, 10, 20, 30, 40, 50, 59]
    assert last["train_loss"] < first["train_loss"] and last["val_loss"] < first["val_loss"]
    assert last["train_gap"] > first["train_gap"] and last["val_gap"] > 0
    assert last["val_rank"] > 1 / (K + 1) + 0.1  # well above chance
    best = min(r["val_loss"] for r in summary.log)
    assert summary.best_val_loss == best and summary.best_step == next(
        r["step"] for r in summary.log if r["val_loss"] == best)

    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"best.pt", "last.pt", "metrics.jsonl", "curves.png", "progress.md", "summary.json"} <= files
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lines == json.loads(json.dumps(summary.log))
    table = (tmp_path / "run" / "progress.md").read_text()
    assert table.startswith("| Step | Train Loss | Gap | Rank | Val Loss | Val Gap | Val Rank | LR |")
    assert f"Best val loss: {best:.4f} at step {summary.best_step:,}" in table

    head = ebm.load_energy_head(tmp_path / "run" / "best.pt")
    x = torch.as_tensor(val[np.arange(len(val))]["pos"])
    assert head(x).shape == (len(val),) and not head.training


def test_resumed_run_matches_an_uninterrupted_one(tmp_path, data):
    train, val, _ = data
    cfg = dataclasses.replace(SMALL, steps=25, log_every=5, eval_every=10)
    whole = ebm.train(cfg, train, val, tmp_path / "whole")

    cut = ebm.train(cfg, train, val, tmp_path / "cut", on_step=lambda step, row: step == 12)  # stop mid-window
    assert cut.stopped_early and cut.steps == 13
    resumed = ebm.train(cfg, train, val, tmp_path / "cut", resume=tmp_path / "cut" / "last.pt")
    assert not resumed.stopped_early and resumed.log == whole.log
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert torch.equal(a["optimizer"]["state"][0]["exp_avg"], b["optimizer"]["state"][0]["exp_avg"])

    with pytest.raises(InputError, match="train.ebm.learning_rate"):
        ebm.train(dataclasses.replace(cfg, learning_rate=1.0), train, val, tmp_path / "x",
                  resume=tmp_path / "cut" / "last.pt")
    with pytest.raises(InputError, match="data: contrastive_train"):
        ebm.train(cfg, train, val, tmp_path / "y", resume=tmp_path / "cut" / "last.pt",
                  meta={"contrastive_train": "xxh3_128:other"})


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_stored_vectors_widen_on_the_device_to_the_exact_float32(dtype):
    from prover_data.embeddings.store.dtypes import to_float32, to_storage
    from prover_models.data import stored_tensor, widen

    x = np.random.default_rng(0).standard_normal((6, 16)).astype(np.float32)
    raw = to_storage(x, dtype)
    batch = widen({"pos": stored_tensor(raw, dtype), "depth": torch.tensor([1, 2])}, torch.device("cpu"))
    assert batch["pos"].dtype == torch.float32 and batch["depth"].dtype == torch.int64
    np.testing.assert_array_equal(batch["pos"].numpy(), to_float32(raw, dtype))
