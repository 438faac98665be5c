"""train-dpo's batching: TRL's settings it maps onto, length grouping, token efficiency, padding-free refused.

The tiny model and preference pairs of ``tests.test_dpo``; runs on CPU.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from prover_data.errors import InputError
from prover_data.identity import state_hash
from prover_data.schema import PREFERENCES
from prover_models import dpo, preferences
from prover_models.dpo_batching import EpochSeeded, check_padding_free
from tests.test_dpo import CHOSEN, REJECTED, config, one_thread, run, tiny, tokenizer_of, write_build  # noqa: F401

# Pair lengths with BurnQED's skew (p50 about 160 tokens, a long tail to 900).
LENGTHS = np.random.default_rng(3).lognormal(5.1, 0.7, 2000).astype(np.int64).clip(20, 900).tolist()


def efficiency(order: list[int], lengths: list[int], batch_size: int) -> float:
    """Real over computed tokens of ``order`` cut into micro-batches, each padded to its longest."""
    batches = [[lengths[i] for i in order[s:s + batch_size]] for s in range(0, len(order), batch_size)]
    return sum(map(sum, batches)) / sum(max(b) * len(b) for b in batches)


def varied_preferences(n: int, seed: int) -> pa.Table:
    """``n`` pairs whose states carry from 0 to 24 hypotheses: prompts of very different lengths."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        hypotheses = "".join(f"h{j} : x + {j} = {j} + x\n" for j in range(rng.randrange(25)))
        state = f"x : ℕ\n{hypotheses}⊢ x + 0 = x"
        prompt, chosen = preferences.prompt_completion(state, rng.choice(CHOSEN))
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rng.choice(REJECTED),
                     "theorem_name": f"thm_{i}", "source": "iter_1", "state_hash": state_hash(state),
                     "chosen_distance": 1, "rejected_expanded": True})
    return pa.Table.from_pylist(rows, schema=PREFERENCES)


def test_batching_maps_onto_trls_settings(tiny, tmp_path):
    for batching, strategy, padding_free in [("grouped", "group_by_length", False), ("random", "random", False),
                                             ("packed", "random", True)]:
        args = dpo.trl_config(config(tiny, batching=batching, grad_accum=4), tmp_path, "cpu", torch.float32,
                              True, world_size=2)
        assert (args.train_sampling_strategy, args.padding_free) == (strategy, padding_free)
        assert args.gradient_accumulation_steps == 2 and args.length_column_name == "length"


def test_grouped_order_is_a_seeded_permutation_of_like_length_micro_batches():
    sampler = EpochSeeded(16, LENGTHS, seed=7)  # 4 micro-batches of 4 pairs a step
    sampler.set_epoch(0)
    first, again = list(sampler), list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(first) == sorted(second) == list(range(len(LENGTHS)))  # every pair once per epoch
    assert first == again and first != second  # a function of (seed, epoch)
    other_seed = EpochSeeded(16, LENGTHS, seed=8)
    other_seed.set_epoch(0)
    assert list(other_seed) != first
    shuffled = torch.randperm(len(LENGTHS), generator=torch.Generator().manual_seed(0)).tolist()
    assert efficiency(first, LENGTHS, 4) >= 0.95 > 0.6 > efficiency(shuffled, LENGTHS, 4)


def test_token_efficiency_is_real_over_computed_tokens_of_both_rows(tiny, tmp_path):
    # one pair a micro-batch over exactly one epoch: whatever the order, each pair computes
    # its chosen and rejected rows padded to the longer of the two
    write_build(tmp_path / "build", train_rows=16, val_rows=4)
    tiny = {**tiny, "build": tmp_path / "build"}
    result = run(tiny, tmp_path / "out", config(tiny, batch_size=1, grad_accum=2, max_steps=8, eval_every=8,
                                                save_every=8, log_every=4))
    data, _ = dpo.pair_dataset(tmp_path / "build" / "preferences_train.parquet", tokenizer_of(tiny), 128)
    rows = [(len(r["prompt_ids"]) + len(r["chosen_ids"]), len(r["prompt_ids"]) + len(r["rejected_ids"]))
            for r in data]
    real, computed = sum(a + b for a, b in rows), sum(2 * max(a, b) for a, b in rows)
    s = result.summary
    assert (s["real_tokens"], s["computed_tokens"]) == (real, computed) and real < computed
    assert s["token_efficiency"] == real / computed and s["batching"] == "grouped" and s["processes"] == 1
    train = [r for r in s["progress"] if r["kind"] == "train"]
    assert [r["step"] for r in train] == [4, 8] and all(0 < r["token_efficiency"] <= 1 for r in train)


def test_grouped_pads_less_than_random(tiny, tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    pq.write_table(varied_preferences(96, 1), build / "preferences_train.parquet")
    pq.write_table(varied_preferences(8, 2), build / "preferences_val.parquet")
    tiny = {**tiny, "build": build}
    got = {b: run(tiny, tmp_path / b, config(tiny, batching=b, max_steps=6, eval_every=6, save_every=6,
                                             max_seq_len=512)).summary for b in ("grouped", "random")}
    assert got["grouped"]["token_efficiency"] > got["random"]["token_efficiency"] + 0.1
    assert got["grouped"]["truncated_pairs"] == {"train": 0, "val": 0}


def test_packed_is_refused_where_trl_pads_anyway(tiny, tmp_path):
    with pytest.raises(InputError) as err:
        run(tiny, tmp_path / "out", config(tiny, batching="packed"))
    assert err.value.problems[0].key == "train.dpo.batching" and "padding-free" in str(err.value)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [".lock"]  # no log, no checkpoint


def test_padding_free_needs_an_attention_that_keeps_rows_apart(tiny):
    from transformers import AttentionInterface, AutoModelForCausalLM
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    def causal_only(module, query, key, value, attention_mask, **kwargs):  # a kernel that takes no mask
        return sdpa_attention_forward(module, query, key, value, None, **kwargs)

    AttentionInterface.register("causal_only_dpo_test", causal_only)
    pairs = [list(range(3, 40)), list(range(40, 80))]
    sdpa = AutoModelForCausalLM.from_pretrained(tiny["model"], attn_implementation="sdpa")
    check_padding_free(SimpleNamespace(padding_free=True, model=sdpa, args=SimpleNamespace(device="cpu")),
                           pairs, "[train.dpo]")  # accepted
    blind = AutoModelForCausalLM.from_pretrained(tiny["model"], attn_implementation="causal_only_dpo_test")
    with pytest.raises(InputError) as err:
        check_padding_free(SimpleNamespace(padding_free=True, model=blind, args=SimpleNamespace(device="cpu")),
                               pairs, "[train.dpo]")
    assert err.value.problems[0].key == "train.dpo.batching" and "causal_only_dpo_test" in str(err.value)
