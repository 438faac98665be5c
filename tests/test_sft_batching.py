"""SFT batching: grouped and packed steps as pure functions of (seed, step), packed pairs kept apart.

The tiny model and build come from ``tests.test_sft``; nothing is downloaded.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from prover_data.errors import InputError
from prover_data.identity import state_hash
from prover_data.schema import SFT_PAIRS
from prover_models import sft
from prover_models.batching import StepPlan, check_packing, rank_share
from prover_models.data import SFTPairs, encode_pair, pack_sft_batch, pad_sft_batch
from tests.test_sft import config, one_thread, run, tiny, tokenizer_of  # noqa: F401  (fixtures)

# Token lengths with BurnQED's skew: mostly short, a few long.
LENGTHS = np.random.default_rng(3).lognormal(5.1, 0.7, 203).astype(np.int64).clip(20, 900)


@pytest.fixture(scope="module")
def varied(tiny, tmp_path_factory):
    """``tiny``'s build with pairs of skewed length: row i's state gains a long tail of hypotheses."""
    build = tmp_path_factory.mktemp("varied")
    rows = pq.read_table(tiny["build"] / "sft_train.parquet").to_pylist()
    for i, r in enumerate(rows):
        extra = "".join(f"h{j} : x + {j} = {j} + x\n" for j in range((i * 7) % 64 if i % 3 == 0 else i % 5))
        r["state_pp"] = extra + r["state_pp"]
        r["state_hash"] = state_hash(r["state_pp"])
    pq.write_table(pa.Table.from_pylist(rows, schema=SFT_PAIRS), build / "sft_train.parquet")
    pq.write_table(pq.read_table(tiny["build"] / "sft_val.parquet"), build / "sft_val.parquet")
    return {**tiny, "build": build}


def plan(batching, **kw):
    settings = dict(batching=batching, batch_size=4, grad_accum=3, seed=11, group_window=5, max_tokens=1024)
    return StepPlan(LENGTHS, **{**settings, **kw})


# --------------------------------------------------------------------------- the plan


@pytest.mark.parametrize("batching", ["random", "grouped", "packed"])
def test_a_step_is_a_pure_function_of_seed_and_step(batching):
    fresh, walked = plan(batching), plan(batching)
    in_order = [walked.step(s) for s in range(40)]  # past three epochs
    for s in (37, 3, 0, 21):  # asked directly, out of order, on a plan that has seen nothing
        assert [m.tolist() for m in fresh.step(s)] == [m.tolist() for m in in_order[s]]
    assert len(fresh.step(5)) == 3
    other = plan(batching, seed=12)
    assert [m.tolist() for m in other.step(0)] != [m.tolist() for m in fresh.step(0)]


@pytest.mark.parametrize("batching", ["grouped", "packed"])
def test_every_pair_appears_once_per_epoch(batching):
    p = plan(batching)
    for epoch in range(3):
        rows = np.concatenate(p.epoch_micro_batches(epoch))
        assert sorted(rows.tolist()) == list(range(len(LENGTHS)))
    assert [m.tolist() for m in p.epoch_micro_batches(0)] != [m.tolist() for m in p.epoch_micro_batches(1)]
    # the step stream walks the epochs' micro-batches in order, straddling epoch ends
    stream = [m.tolist() for s in range(30) for m in p.step(s)]
    first_epochs = [m.tolist() for e in range(3) for m in p.epoch_micro_batches(e)]
    assert stream == first_epochs[:len(stream)]
    boundary = len(p.epoch_micro_batches(0))
    s = boundary // p.grad_accum
    assert p.epoch_at(0) == 0 and p.epoch_at(s) == pytest.approx(s * p.grad_accum / boundary)
    assert 1.0 <= p.epoch_at(s + 1) < 1.5


def test_random_is_the_old_stream_of_pairs():
    p = plan("random")
    rows = [r for s in range(17) for m in p.step(s) for r in m.tolist()]  # 17 x 12 = 204 > 203 pairs
    assert sorted(rows[:203]) == list(range(203)) and [len(m) for m in p.step(0)] == [4, 4, 4]


def test_grouped_windows_are_sorted_runs_and_cut_padding():
    p = plan("grouped")
    window = p.group_window * p.batch_size
    order = np.random.default_rng([11, 0]).permutation(len(LENGTHS))
    micro = p.epoch_micro_batches(0)
    for w in range(0, len(LENGTHS), window):  # each window's micro-batches are a sorted cut of its pairs
        pairs = set(order[w:w + window].tolist())
        mine = [m for m in micro if set(m.tolist()) <= pairs]
        assert sum(len(m) for m in mine) == len(pairs)
        spans = sorted((LENGTHS[m].min(), LENGTHS[m].max()) for m in mine)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "micro-batches of a window overlap in length"
    real, computed, _ = p.tokens(0, 16)
    real_r, computed_r, _ = plan("random").tokens(0, 16)
    assert real / computed > real_r / computed_r + 0.2


def test_packed_micro_batches_fill_the_token_budget():
    p = plan("packed")
    micro = p.epoch_micro_batches(0)
    sizes = [int(LENGTHS[m].sum()) for m in micro]
    assert max(sizes) <= 1024
    assert all(a + LENGTHS[m[0]] > 1024 for a, m in zip(sizes, micro[1:]))  # next-fit: the next pair did not fit
    real, computed, pairs = p.tokens(0, 5)
    assert real == computed and pairs == sum(len(m) for s in range(5) for m in p.step(s))


def test_ranks_share_every_micro_batch_of_a_step():
    step = plan("grouped", grad_accum=4).step(2)
    shares = [rank_share(step, r, 2) for r in range(2)]
    assert sorted(m.tolist() for s in shares for m in s) == sorted(m.tolist() for m in step)
    assert len(shares[0]) == len(shares[1]) == 2


# --------------------------------------------------------------------------- lengths and truncation


def test_lengths_are_encode_pairs_and_truncation_is_counted(varied):
    tok = tokenizer_of(varied)
    data = SFTPairs(varied["build"] / "sft_train.parquet", tok, 150)
    full = [len(encode_pair(tok, data.state[i], data.tactic[i], 10**6)[0]) for i in range(len(data))]
    assert data.full_lengths.tolist() == full
    assert data.lengths.tolist() == [len(data[i]["input_ids"]) for i in range(len(data))]
    counts = data.truncation()
    assert counts["truncated"] == sum(n > 150 for n in full) > 0
    no_tactic = sum(all(label == -100 for label in data[i]["labels"]) for i in range(len(data)))
    assert counts["without_tactic"] == no_tactic > 0


# --------------------------------------------------------------------------- packed attention


def tiny_model(tiny):
    cfg = config(tiny, lora_dropout=0.0)
    model = sft.load_model(tiny["model"], cfg, "cpu")
    with torch.no_grad():  # adapters that do something: B starts at zero
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return model.eval()


def pairs_of(tiny, rows):
    data = SFTPairs(tiny["build"] / "sft_train.parquet", tokenizer_of(tiny), 128)
    return [data[i] for i in rows]


def test_a_packed_pairs_logits_do_not_see_its_neighbours(tiny):
    model = tiny_model(tiny)
    a, b, c, d = pairs_of(tiny, [0, 5, 9, 30])

    def logits_of_b(before, after):
        batch = pack_sft_batch(before + [b] + after)
        start = sum(len(e["input_ids"]) for e in before)
        with torch.no_grad():
            out = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        return out[0, start:start + len(b["input_ids"])]

    with torch.no_grad():
        alone = model(input_ids=torch.tensor([b["input_ids"]]), use_cache=False).logits[0]
    for before, after in (([a], [c]), ([d, c], []), ([], [a, d])):
        torch.testing.assert_close(logits_of_b(before, after), alone, rtol=1e-4, atol=1e-5)
    # and the comparison would notice a leak: the same row without the restarts differs
    batch = pack_sft_batch([a, b])
    with torch.no_grad():
        leaked = model(input_ids=batch["input_ids"], use_cache=False).logits[0, len(a["input_ids"]):]
    assert (leaked - alone).abs().max() > 1e-2


def test_a_packed_batchs_loss_is_the_sum_of_its_pairs_losses(tiny):
    model = tiny_model(tiny)
    pairs = pairs_of(tiny, [1, 2, 3, 4, 40])
    with torch.no_grad():
        packed = sft.loss_sum(model, pack_sft_batch(pairs), "cpu", torch.autocast("cpu", enabled=False))
        one_by_one = sum(sft.loss_sum(model, pad_sft_batch([p], 0), "cpu", torch.autocast("cpu", enabled=False))
                         for p in pairs)
    assert sft.target_tokens(pack_sft_batch(pairs)) == sum(sft.target_tokens(pad_sft_batch([p], 0)) for p in pairs)
    torch.testing.assert_close(packed, one_by_one, rtol=1e-5, atol=1e-4)


def test_packing_is_refused_where_attention_cannot_keep_pairs_apart(tiny):
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    def causal_only(module, query, key, value, attention_mask, **kwargs):  # a kernel that takes no mask
        return sdpa_attention_forward(module, query, key, value, None, **kwargs)

    AttentionInterface.register("causal_only_test", causal_only)
    model = sft.load_model(tiny["model"], config(tiny, attn_implementation="causal_only_test"), "cpu")
    pairs = [p["input_ids"] for p in pairs_of(tiny, [0, 1])]
    with pytest.raises(InputError) as e:
        check_packing(model, pairs, "cpu")
    assert e.value.problems[0].key == "train.sft.batching" and "causal_only_test" in str(e.value)
    check_packing(tiny_model(tiny), pairs, "cpu")  # sdpa: accepted
    with pytest.raises(InputError, match="attn_implementation"):
        sft.load_model(tiny["model"], config(tiny, attn_implementation="no_such_attention"), "cpu")


# --------------------------------------------------------------------------- runs


@pytest.mark.parametrize("batching", ["grouped", "packed"])
def test_resume_is_bitwise_under_grouped_and_packed(tiny, tmp_path, batching):
    cfg = config(tiny, max_steps=8, save_every=4, eval_every=4, log_every=2, lora_dropout=0.1, batching=batching,
                 max_tokens=256, group_window=4)
    whole = run(tiny, tmp_path / "whole", cfg)
    resumed = run(tiny, tmp_path / "resumed", cfg, resume=tmp_path / "whole" / "checkpoint-4")
    a = load_file(tmp_path / "whole" / "adapter" / "adapter_model.safetensors")
    b = load_file(tmp_path / "resumed" / "adapter" / "adapter_model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)

    def records(path):
        return [r for r in map(json.loads, (path / "log.jsonl").read_text().splitlines())
                if r["kind"] in ("train", "eval")]

    assert records(tmp_path / "resumed") == records(tmp_path / "whole")
    for key in ("token_efficiency", "real_tokens", "computed_tokens", "final_eval_loss"):
        assert resumed.summary[key] == whole.summary[key], key  # the whole run's figures, both parts
    with pytest.raises(InputError) as e:  # another batching is another data order
        run(tiny, tmp_path / "other", config(tiny, max_steps=8, batching="random"),
            resume=tmp_path / "whole" / "checkpoint-4")
    assert {p.key for p in e.value.problems} >= {"train.sft.batching"}


def test_summary_and_report_count_efficiency_and_truncation(varied, tmp_path):
    summaries = {}
    for batching in ("random", "grouped", "packed"):
        cfg = config(varied, max_steps=4, eval_every=100, save_every=100, log_every=2, batching=batching,
                     max_seq_len=150, max_tokens=600)
        summaries[batching] = run(varied, tmp_path / batching, cfg).summary
    s = summaries["grouped"]
    data = SFTPairs(varied["build"] / "sft_train.parquet", tokenizer_of(varied), 150)
    assert s["truncated_train_pairs"] == data.truncation()["truncated"] > 0
    assert s["token_efficiency"] == s["real_tokens"] / s["computed_tokens"]
    assert summaries["packed"]["token_efficiency"] == 1.0
    assert summaries["random"]["token_efficiency"] < s["token_efficiency"] < 1.0
    report = (tmp_path / "grouped" / "report.md").read_text()
    assert f"token efficiency {s['token_efficiency']:.3f}" in report
    assert f"{s['truncated_train_pairs']:,} train pairs" in report
    assert json.loads((tmp_path / "grouped" / "summary.json").read_text())["token_efficiency"] == s["token_efficiency"]


def test_packed_budget_below_max_seq_len_is_refused(tiny, tmp_path):
    with pytest.raises(InputError) as e:
        run(tiny, tmp_path / "r", config(tiny, batching="packed", max_tokens=64, max_seq_len=128))
    assert e.value.problems[0].key == "train.sft.max_tokens"


def test_synth_lengths_follow_burnqeds_distribution(tmp_path):
    from prover_data.synth.sft_lengths import sample_lengths, write_sft_pairs

    lengths = sample_lengths(200_000, seed=1)
    quantiles = np.percentile(lengths, [25, 50, 75, 90, 95, 99])
    assert quantiles == pytest.approx([103, 156, 246, 384, 506, 793], rel=0.02)
    assert (lengths > 1024).mean() == pytest.approx(0.0041, abs=0.0005) and 190 < lengths.mean() < 215
    assert np.array_equal(sample_lengths(50, seed=1), lengths[:50])  # seeded
    assert write_sft_pairs(tmp_path, 40, seed=1) == {"sft_train": 40, "sft_val": 4}
    table = pq.read_table(tmp_path / "sft_train.parquet")
    assert table.schema.equals(SFT_PAIRS, check_metadata=False) and table.num_rows == 40
