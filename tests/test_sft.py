"""LoRA SFT trainer: prompt and masking, schedule, parameter count, learning, exact resume.

Runs on CPU with a tiny Llama-architecture model (``prover_models.tiny_llama``: a
LlamaConfig with tiny dims, the same q/k/v/o/gate/up/down projection names as
DeepSeek-Prover-V2-7B) and a byte-level BPE tokenizer trained on the test's own pairs.
Nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from prover_data.errors import InputError
from prover_data.identity import state_hash
from prover_data.manifest import SFTTrainer
from prover_data.schema import SFT_PAIRS
from prover_models import sft
from prover_models.data import IGNORE_INDEX, SFTPairs, encode_pair, format_prompt
from prover_models.schedule import learning_rate
from prover_models.tiny_llama import build_tiny_llama

# Goal shapes and the tactic that closes each: a learnable state -> tactic mapping.
RULES = [("{a} + 0 = {a}", "simp"), ("{a} * {b} = {b} * {a}", "ring"), ("{a} ≤ {a}", "exact le_refl {a}"),
         ("{a} + {b} = {b} + {a}", "omega"), ("0 < {a} + 1", "positivity"), ("{a} = {a}", "rfl")]
NAMES = ["n", "m", "k", "x", "y", "a", "b"]


def make_pairs(n: int, seed: int) -> pa.Table:
    """``n`` SFT pairs in ``schema.SFT_PAIRS``; every third from 'base', the rest from a trajectory file."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        goal, tactic = RULES[rng.randrange(len(RULES))]
        a, b = rng.sample(NAMES, 2)
        state = f"{a} {b} : ℕ\n⊢ " + goal.format(a=a, b=b)
        rows.append({"theorem_name": f"thm_{seed}_{i // 2}", "source": "base" if i % 3 == 0 else "iter_1",
                     "state_pp": state, "tactic": tactic.format(a=a, b=b), "state_hash": state_hash(state),
                     "depth": i % 4})
    return pa.Table.from_pylist(rows, schema=SFT_PAIRS)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A build dir with sft_train (64 pairs) / sft_val (24 pairs) and a tiny model trained for them."""
    root = tmp_path_factory.mktemp("sft")
    build = root / "build"
    build.mkdir()
    train, val = make_pairs(64, 1), make_pairs(24, 2)
    pq.write_table(train, build / "sft_train.parquet")
    pq.write_table(val, build / "sft_val.parquet")
    texts = [format_prompt(r["state_pp"]) + r["tactic"] for r in train.to_pylist()]
    model = build_tiny_llama(root / "model", texts)
    return {"root": root, "build": build, "model": model}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matrices run fastest, and identically, on one thread; a busy 2-core box thrashes with two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def config(tiny, **overrides) -> SFTTrainer:
    settings = dict(base_model=str(tiny["model"]), lora_r=8, lora_alpha=16, learning_rate=1e-2, max_steps=40,
                    batch_size=4, grad_accum=2, max_seq_len=128, eval_every=10, eval_examples=16, save_every=20,
                    log_every=5, gradient_checkpointing=False, seed=7)
    return SFTTrainer(**{**settings, **overrides})


def run(tiny, out, cfg=None, **kwargs) -> sft.Result:
    return sft.train(cfg or config(tiny), train_path=tiny["build"] / "sft_train.parquet",
                     val_path=tiny["build"] / "sft_val.parquet", out_dir=out, say=lambda _: None, **kwargs)


def tokenizer_of(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny["model"], local_files_only=True)


# --------------------------------------------------------------------------- prompt and masking


def test_prompt_is_burnqeds_format_sft_pair():
    state, tactic = "n : ℕ\n⊢ n + 0 = n", "simp"
    burnqed = ("Complete the following Lean 4 code:\n\n```lean4\n/- tactic state:\n"
               f"{state}\n-/\n```\n{tactic}")  # merge_sft_dataset.format_sft_pair, written out
    assert format_prompt(state) + tactic == burnqed
    assert format_prompt("{x} ⊢ {y}").count("{x}") == 1  # braces in a state are text, not placeholders


def test_prompt_tokens_carry_no_loss(tiny):
    tok = tokenizer_of(tiny)
    state, tactic = "x y : ℕ\n⊢ x * y = y * x", "ring_nf"
    ids, labels = encode_pair(tok, state, tactic, max_len=512)
    prompt_len = 1 + len(tok(format_prompt(state), add_special_tokens=False)["input_ids"])
    assert ids[0] == tok.bos_token_id
    assert labels[:prompt_len] == [IGNORE_INDEX] * prompt_len
    assert labels[prompt_len:] == ids[prompt_len:] and len(ids) > prompt_len
    assert tok.decode(ids[prompt_len:]) == tactic
    # cut at max_len from the end, as BurnQED's tokenizer call does
    short_ids, short_labels = encode_pair(tok, state, tactic, max_len=prompt_len + 1)
    assert short_ids == ids[:prompt_len + 1] and short_labels[-1] == ids[prompt_len]


def test_masking_is_exact_when_bpe_merges_across_the_boundary():
    """A tokenizer that merges the fence's newline into the tactic: whole-text template
    search (BurnQED) cannot find "```\\n" as tokens; separate tokenization still labels
    exactly the tactic."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [format_prompt(f"⊢ goal {i}") + "simp" for i in range(200)]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)  # no word splits
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>")
    prompt = format_prompt("⊢ goal 7")
    whole = tok(prompt + "simp", add_special_tokens=False, return_offsets_mapping=True)
    assert any(start < len(prompt) < end for start, end in whole["offset_mapping"]), "precondition: a merged token"
    template = tok("```\n", add_special_tokens=False)["input_ids"]
    ids_whole = whole["input_ids"]
    assert not any(ids_whole[i:i + len(template)] == template for i in range(len(ids_whole)))

    ids, labels = encode_pair(tok, "⊢ goal 7", "simp", max_len=512)
    assert tok.decode([t for t in labels if t != IGNORE_INDEX]) == "simp"


# --------------------------------------------------------------------------- parameters, schedule, data order


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")  # peft vs transformers 5
def test_trainable_parameter_line_reproduces_the_report():
    # DeepSeek-Prover-V2-7B's shape (Llama: 30 layers, 4096 hidden, 11008 MLP), built on the
    # meta device: r 32 on all seven projections is exactly the report's 74.96M.
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=30, num_attention_heads=32,
                        num_key_value_heads=32, vocab_size=102400, tie_word_embeddings=False)
    with torch.device("meta"):
        model = get_peft_model(LlamaForCausalLM(shape), LoraConfig(
            r=32, lora_alpha=64, target_modules=list(SFTTrainer().target_modules), task_type="CAUSAL_LM"))
    trainable, total = sft.count_parameters(model)
    assert trainable == 30 * 32 * (4 * (4096 + 4096) + 3 * (4096 + 11008)) == 74_956_800
    assert sft.format_parameters(trainable, total) == "74.96M / 6.99B (1.1%)"  # in bfloat16
    # The report's 3.95B counts QLoRA's model: its 4-bit projection weights store two
    # values per element (embeddings, lm_head, norms and adapters stay unquantized).
    projections = sum(p.numel() for n, p in model.named_parameters() if n.endswith("base_layer.weight"))
    assert sft.format_parameters(trainable, total - projections // 2) == "74.96M / 3.95B (1.9%)"
    assert sft.format_parameters(16_384, 134_592) == "16.38K / 134.59K (12.2%)"
    assert sft.format_parameters(5, 10_000_000) == "5 / 10.00M (5e-05%)"


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant"])
def test_learning_rate_is_transformers_schedule(schedule):
    import transformers

    cfg = SFTTrainer(learning_rate=3e-5, lr_schedule=schedule, warmup_steps=10, max_steps=100)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=cfg.learning_rate)
    make = {"cosine": transformers.get_cosine_schedule_with_warmup,
            "linear": transformers.get_linear_schedule_with_warmup}.get(schedule)
    sched = make(opt, 10, 100) if make else transformers.get_constant_schedule_with_warmup(opt, 10)
    for step in range(100):
        ours = learning_rate(step, peak=cfg.learning_rate, warmup_steps=cfg.warmup_steps, total_steps=cfg.max_steps,
                             decay=cfg.lr_schedule, warmup_from_zero=True)  # as train-sft calls it
        assert ours == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12, abs=1e-20)
        opt.step()
        sched.step()


@pytest.mark.parametrize("batching", ["random", "grouped"])
def test_each_pass_sees_every_pair_once(batching):
    cfg = SFTTrainer(batch_size=3, grad_accum=2, seed=5, batching=batching, group_window=2)
    lengths = [5, 9, 2, 7, 7, 1, 30, 4, 11, 3, 8, 6]  # two steps of 6 pairs per pass
    n = len(lengths)
    for epoch in range(3):
        rows = [r for step in (2 * epoch, 2 * epoch + 1) for micro in sft.step_rows(step, cfg, lengths) for r in micro]
        assert sorted(rows) == list(range(n))
    assert [len(m) for m in sft.step_rows(0, cfg, lengths)] == [3, 3]
    assert sft.step_rows(1, cfg, lengths) != sft.step_rows(3, cfg, lengths)  # a new order each pass


def test_eval_subset_is_chosen_by_content_not_row_order(tiny, tmp_path):
    table = pq.read_table(tiny["build"] / "sft_val.parquet")
    pq.write_table(table.take(list(reversed(range(table.num_rows)))), tmp_path / "reversed.parquet")
    tok = tokenizer_of(tiny)
    a, b = SFTPairs(tiny["build"] / "sft_val.parquet", tok, 64), SFTPairs(tmp_path / "reversed.parquet", tok, 64)
    pick = lambda d, seed: [(d.state[i], d.tactic[i]) for i in d.sample(10, seed)]  # noqa: E731
    assert pick(a, 1) == pick(b, 1) and len(pick(a, 1)) == 10
    assert pick(a, 1) != pick(a, 2)
    assert all(a.source[i] != "base" for i in a.trajectory_indices()) and len(a.trajectory_indices()) == 16


# --------------------------------------------------------------------------- training


def test_loss_falls_and_only_lora_weights_change(tiny, tmp_path):
    result = run(tiny, tmp_path / "run")
    s = result.summary
    train_losses = [r["loss"] for r in s["progress"]]
    assert train_losses[-1] < 0.5 * train_losses[0], train_losses
    evals = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    subset = [r["loss"] for r in evals if r["kind"] == "eval" and r["split"] == "subset"]
    assert subset[-1] < subset[0] and len(subset) == 4

    base = load_file(tiny["model"] / "model.safetensors")
    trained = {n.removeprefix("base_model.model.").replace(".base_layer", ""): p
               for n, p in result.model.named_parameters() if "lora_" not in n}
    assert set(trained) == set(base)
    assert all(torch.equal(trained[n], base[n]) for n in base), "a base weight changed"
    lora_b = [p for n, p in result.model.named_parameters() if "lora_B" in n]
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b)  # B starts at zero: every adapter learned

    # trainable count: r * (in + out) for each of the 7 projections in each of the 2 layers
    hidden, mlp = 64, 128
    lora = 2 * 8 * (4 * (hidden + hidden) - 2 * hidden // 2 + 3 * (hidden + mlp))  # k/v project to hidden/2 (GQA)
    assert s["trainable_params"] == lora
    assert s["trainable"] == sft.format_parameters(lora, s["total_params"])
    assert s["final_eval_loss"] is not None and s["final_trajectory_eval_loss"] is not None
    assert {"progress", "train_loss_by_epoch", "eval_loss_by_epoch", "best_eval"} <= set(s)
    for name in ("adapter/adapter_model.safetensors", "summary.json", "report.md", "loss.png", "checkpoint-40"):
        assert (tmp_path / "run" / name).exists(), name
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| Step | Epoch | Train Loss | Grad Norm | Learning Rate |" in report
    assert f"**Trainable params**: {s['trainable']}" in report and "Final trajectory eval loss" in report


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "activation-checkpointing"])
def test_resume_reproduces_the_uninterrupted_run_bitwise(tiny, tmp_path, checkpointing):
    # dropout on, so the restored RNG state matters; log records straddle the checkpoint
    cfg = config(tiny, max_steps=12, save_every=6, eval_every=4, log_every=4, lora_dropout=0.1,
                 gradient_checkpointing=checkpointing)
    whole = run(tiny, tmp_path / "whole", cfg)
    resumed = run(tiny, tmp_path / "resumed", cfg, resume=tmp_path / "whole" / "checkpoint-6")

    a = load_file(tmp_path / "whole" / "adapter" / "adapter_model.safetensors")
    b = load_file(tmp_path / "resumed" / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # bitwise, not approximately

    def records(path):
        lines = (path / "log.jsonl").read_text().splitlines()
        return [r for r in map(json.loads, lines) if r["kind"] in ("train", "eval")]

    assert records(tmp_path / "resumed") == records(tmp_path / "whole")  # losses, grad norms, lr: all equal
    assert resumed.summary["resumes"] == [{"step": 6, "epoch": 0.75, "from": str(tmp_path / "whole" / "checkpoint-6")}]
    assert resumed.summary["final_eval_loss"] == whole.summary["final_eval_loss"]


def test_resume_refuses_other_settings_and_unasked_overwrites(tiny, tmp_path):
    cfg = config(tiny, max_steps=4, save_every=2, eval_every=2, log_every=2)
    run(tiny, tmp_path / "a", cfg)
    with pytest.raises(InputError, match="earlier run.*--resume auto"):
        run(tiny, tmp_path / "a", cfg)
    with pytest.raises(InputError) as e:
        run(tiny, tmp_path / "b", dataclasses.replace(cfg, lora_r=4, batch_size=2),
            resume=tmp_path / "a" / "checkpoint-2")
    keys = {p.key for p in e.value.problems}
    assert keys == {"train.sft.lora_r", "train.sft.batch_size"}
    with pytest.raises(InputError, match="newer than checkpoint-2"):
        run(tiny, tmp_path / "a", cfg, resume=tmp_path / "a" / "checkpoint-2")
    # --resume auto on a finished run: nothing left to train, results rewritten the same
    again = run(tiny, tmp_path / "a", cfg, resume="auto")
    assert again.summary["steps"] == 4 and again.summary["resumes"][0]["step"] == 4


def test_bad_inputs_are_named(tiny, tmp_path):
    with pytest.raises(InputError, match="base model 'no-such/model'.*--model"):
        run(tiny, tmp_path / "r", config(tiny, base_model="no-such/model"))
    with pytest.raises(InputError) as e:
        run(tiny, tmp_path / "r", config(tiny, lora_r=0, eval_every=0))
    assert {p.key for p in e.value.problems} == {"train.sft.lora_r", "train.sft.eval_every"}
    with pytest.raises(InputError, match="not in .*LlamaForCausalLM"):
        run(tiny, tmp_path / "r", config(tiny, target_modules=("q_proj", "c_attn")))

    bad = pq.read_table(tiny["build"] / "sft_train.parquet").drop_columns(["tactic"])
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(InputError) as e:
        SFTPairs(tmp_path / "bad.parquet", tokenizer_of(tiny), 64)
    assert e.value.problems[0].column == "tactic" and "bad.parquet" in e.value.problems[0].file
    with pytest.raises(InputError, match="build-manifest"):
        SFTPairs(tmp_path / "missing.parquet", tokenizer_of(tiny), 64)
