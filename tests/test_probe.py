"""Separation probe: probe-set selection, BurnQED's figures, LLM checkpoints (tiny, local)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prover_data.errors import InputError
from prover_data.identity import state_hash
from prover_data.schema import STATES
from prover_models import probe
from tests.test_ebm import dense_export

D = 16


def write_states(path, n_pos=60, n_neg=90, n_both=20, order_seed=None):
    """states.parquet with positive-only, negative-only and dual-labelled states."""
    rows = []
    for kind, n, (p, q) in (("pos", n_pos, (2, 0)), ("neg", n_neg, (0, 3)), ("both", n_both, (1, 1))):
        for i in range(n):
            text = f"x : ℕ\n⊢ {kind} {i} = {i}"
            rows.append({"state_hash": state_hash(text), "state_pp": text, "n_records": p + q,
                         "n_positive": p, "n_negative": q})
    rows.sort(key=lambda r: r["state_hash"])
    if order_seed is not None:
        rows = [rows[i] for i in np.random.default_rng(order_seed).permutation(len(rows))]
    pq.write_table(pa.Table.from_pylist(rows, schema=STATES), path)
    return rows


def test_probe_set_takes_single_label_states_by_content(tmp_path):
    rows = write_states(tmp_path / "states.parquet")
    write_states(tmp_path / "shuffled.parquet", order_seed=3)
    full = probe.probe_set(tmp_path / "states.parquet", n_per_class=0)
    assert len(full.pos_texts) == 60 and len(full.neg_texts) == 90
    assert not any(" both " in t for t in full.pos_texts + full.neg_texts)  # dual-labelled left out
    assert all(" pos " in t for t in full.pos_texts) and all(" neg " in t for t in full.neg_texts)

    a = probe.probe_set(tmp_path / "states.parquet", n_per_class=25, seed=1)
    b = probe.probe_set(tmp_path / "shuffled.parquet", n_per_class=25, seed=1)
    c = probe.probe_set(tmp_path / "states.parquet", n_per_class=25, seed=2)
    assert len(a.pos_texts) == 25 and len(a.neg_texts) == 25
    assert sorted(a.pos_texts) == sorted(b.pos_texts) and sorted(a.neg_texts) == sorted(b.neg_texts)
    assert sorted(a.pos_texts) != sorted(c.pos_texts)
    assert {bytes(h) for h in a.pos_hashes} == {state_hash(t) for t in a.pos_texts}

    only_pos = [r for r in rows if r["n_negative"] == 0]
    pq.write_table(pa.Table.from_pylist(only_pos, schema=STATES), tmp_path / "one_class.parquet")
    with pytest.raises(InputError, match="both classes"):
        probe.probe_set(tmp_path / "one_class.parquet")


def test_probe_figures_match_burnqeds_definitions(tmp_path):
    write_states(tmp_path / "states.parquet")
    full = probe.probe_set(tmp_path / "states.parquet", n_per_class=0)
    rng = np.random.default_rng(0)
    direction = np.eye(D)[0]
    pos = rng.standard_normal((60, D)) * 0.5 + 3.0 * direction
    neg = rng.standard_normal((90, D)) * 2.0
    hashes = [bytes(h) for h in full.pos_hashes] + [bytes(h) for h in full.neg_hashes]
    emb = dense_export(tmp_path, hashes, np.concatenate([pos, neg]).astype(np.float32))

    r = probe.probe_embeddings(emb, full, "dense/v1")
    pos32, neg32 = pos.astype(np.float32).astype(np.float64), neg.astype(np.float32).astype(np.float64)
    assert r.centroid_l2 == pytest.approx(np.linalg.norm(pos32.mean(0) - neg32.mean(0)))
    assert r.pos_norm == pytest.approx(np.linalg.norm(pos32, axis=1).mean())
    assert r.neg_norm == pytest.approx(np.linalg.norm(neg32, axis=1).mean())
    assert r.norm_gap == pytest.approx(r.neg_norm - r.pos_norm)
    assert r.centroid_l2 == pytest.approx(3.0, abs=0.6) and (r.n_pos, r.n_neg) == (60, 90)

    table = probe.probe_table([r])
    assert table.startswith("| Step | Epoch | Centroid L2 | Norm Gap | Pos Norm | Neg Norm |")
    assert f"| — | — | {r.centroid_l2:.3f} | {r.norm_gap:.3f} |" in table
    probe.plot_probe([r], tmp_path / "probe.png")
    assert (tmp_path / "probe.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """A tiny Llama saved as two checkpoints (different weights) and one LoRA adapter at init."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from prover_models.tiny_llama import build_tiny_llama

    root = tmp_path_factory.mktemp("llm")
    texts = [f"x : ℕ\n⊢ pos {i} = {i}" for i in range(50)] + [f"x : ℕ\n⊢ neg {i} = {i}" for i in range(50)]
    run = root / "run"
    build_tiny_llama(run / "checkpoint-20", texts, vocab_size=300, hidden_size=32, seed=1)
    build_tiny_llama(run / "checkpoint-10", texts, vocab_size=300, hidden_size=32, seed=0)
    (run / "checkpoint-20" / "trainer_state.json").write_text(json.dumps({"global_step": 20, "epoch": 1.5}))
    base = AutoModelForCausalLM.from_pretrained(run / "checkpoint-10")
    torch.manual_seed(0)
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(root / "adapter")  # B = 0 at init: the adapter changes nothing yet
    return run, root / "adapter"


def test_checkpoints_are_probed_in_step_order(tmp_path, tiny_checkpoints):
    run, adapter = tiny_checkpoints
    write_states(tmp_path / "states.parquet", n_pos=6, n_neg=9, n_both=2)
    states = probe.probe_set(tmp_path / "states.parquet", n_per_class=5)
    found = probe.find_checkpoints([run])
    assert [c.name for c in found] == ["checkpoint-10", "checkpoint-20"]
    results = [probe.probe_checkpoint(c, states, max_length=64, batch_size=4) for c in found]
    assert [(r.step, r.epoch) for r in results] == [(10, None), (20, 1.5)]
    assert all(r.n_pos == 5 and r.n_neg == 5 and np.isfinite(r.centroid_l2) and r.centroid_l2 > 0 for r in results)
    assert results[0].centroid_l2 != results[1].centroid_l2  # different weights, different geometry

    through_adapter = probe.probe_checkpoint(adapter, states, base_model=str(run / "checkpoint-10"), max_length=64)
    assert through_adapter.centroid_l2 == pytest.approx(results[0].centroid_l2, rel=1e-5)
    with pytest.raises(InputError, match="not a model or adapter"):
        probe.find_checkpoints([tmp_path])


def test_mean_pool_ignores_padding(tiny_checkpoints):
    run, _ = tiny_checkpoints
    model, tokenizer = probe.load_encoder(run / "checkpoint-10", base_model=None, device="cpu", dtype="float32")
    short, long = "⊢ a = a", "x y z : ℕ\nh : x + y = z\n⊢ z = x + y ∧ y + x = z"
    alone = probe.mean_pool(model, tokenizer, [short], 64, "cpu")
    padded = probe.mean_pool(model, tokenizer, [short, long], 64, "cpu")
    np.testing.assert_allclose(padded[0], alone[0], rtol=1e-4, atol=1e-5)
    assert padded.shape == (2, model.config.hidden_size)
