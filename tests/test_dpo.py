"""DPO trainer: pair text and tokens as train-sft's, learning a preference, the reference, resume, errors.

Runs on CPU with the tiny Llama of ``prover_models.tiny_llama`` (built from a config
here; nothing is downloaded). The preference is learnable: at every state the chosen
tactic is one of a few closing tactics and the rejected one of a few dead ends, so a
policy can learn to rank them on val states it never saw.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from prover_data.errors import InputError
from prover_data.identity import state_hash
from prover_data.manifest import DPOTrainer
from prover_data.schema import PREFERENCES
from prover_models import dpo, preferences
from prover_models.data import IGNORE_INDEX, encode_pair, format_prompt
from prover_models.tiny_llama import build_tiny_llama

CHOSEN = ["simp", "ring", "omega", "linarith"]
REJECTED = ["norm_num", "decide", "exact h", "trivial"]
GOALS = ["{a} + 0 = {a}", "{a} * {b} = {b} * {a}", "{a} ≤ {a} + {b}", "0 < {a} + 1", "{a} + {b} = {b} + {a}"]
NAMES = ["n", "m", "k", "x", "y", "a", "b"]


def make_preferences(n: int, seed: int) -> pa.Table:
    """``n`` pairs in ``schema.PREFERENCES``: chosen from CHOSEN, rejected from REJECTED."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.sample(NAMES, 2)
        state = f"{a} {b} : ℕ\n⊢ " + rng.choice(GOALS).format(a=a, b=b)
        prompt, chosen = preferences.prompt_completion(state, rng.choice(CHOSEN))
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rng.choice(REJECTED),
                     "theorem_name": f"thm_{seed}_{i // 3}", "source": "iter_1", "state_hash": state_hash(state),
                     "chosen_distance": i % 3, "rejected_expanded": i % 2 == 0})
    return pa.Table.from_pylist(rows, schema=PREFERENCES)


def write_build(build, train_rows: int = 48, val_rows: int = 16) -> None:
    build.mkdir(parents=True, exist_ok=True)
    pq.write_table(make_preferences(train_rows, 1), build / "preferences_train.parquet")
    pq.write_table(make_preferences(val_rows, 2), build / "preferences_val.parquet")


def tiny_model(path):
    texts = [r["prompt"] + t for r in make_preferences(48, 1).to_pylist() for t in (r["chosen"], r["rejected"])]
    return build_tiny_llama(path, texts)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("dpo")
    write_build(root / "build")
    return {"root": root, "build": root / "build", "model": tiny_model(root / "model")}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def config(tiny, **overrides) -> DPOTrainer:
    settings = dict(base_model=str(tiny["model"]), lora_r=8, lora_alpha=16, beta=0.1, learning_rate=5e-3,
                    max_steps=24, batch_size=4, grad_accum=2, max_seq_len=128, eval_every=8, save_every=8,
                    log_every=4, gradient_checkpointing=False, seed=7, lr_schedule="constant")
    return DPOTrainer(**{**settings, **overrides})


def run(tiny, out, cfg=None, **kwargs) -> dpo.Result:
    return dpo.train(cfg or config(tiny), train_path=tiny["build"] / "preferences_train.parquet",
                     val_path=tiny["build"] / "preferences_val.parquet", out_dir=out, say=lambda _: None, **kwargs)


def tokenizer_of(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny["model"], local_files_only=True)


def evals(result: dpo.Result) -> list[dict]:
    return [r for r in result.summary["progress"] if r["kind"] == "eval"]


# --------------------------------------------------------------------------- text and tokens


def test_prompt_completion_is_the_sft_pair():
    prompt, completion = preferences.prompt_completion("  n : ℕ\n⊢ n + 0 = n\n", " simp \n")
    assert prompt == format_prompt("n : ℕ\n⊢ n + 0 = n") and completion == "simp"  # stripped, no EOS


def test_tokens_are_train_sfts_tokens(tiny):
    tok = tokenizer_of(tiny)
    state, tactic = "x y : ℕ\n⊢ x * y = y * x", "ring"
    prompt_ids, completion_ids = preferences.tokenize(tok, *preferences.prompt_completion(state, tactic))
    ids, labels = encode_pair(tok, state, tactic, max_len=10_000)
    assert prompt_ids + completion_ids == ids
    assert labels == [IGNORE_INDEX] * len(prompt_ids) + completion_ids
    assert prompt_ids[0] == tok.bos_token_id and tok.eos_token_id not in completion_ids


def test_pair_dataset_orders_by_content_and_drops_prompts_that_fill_max_len(tiny, tmp_path):
    tok = tokenizer_of(tiny)
    table = make_preferences(12, 5)
    pq.write_table(table, tmp_path / "a.parquet")
    pq.write_table(table.take(list(reversed(range(12)))), tmp_path / "b.parquet")
    a, dropped = dpo.pair_dataset(tmp_path / "a.parquet", tok, 128)
    b, _ = dpo.pair_dataset(tmp_path / "b.parquet", tok, 128)
    assert dropped == 0 and a.to_dict() == b.to_dict() and len(a) == 12
    lengths = sorted(len(preferences.tokenize(tok, p, "")[0]) for p in table.column("prompt").to_pylist())
    cut = lengths[5] + 1  # prompts of this length or longer fill it
    kept, dropped = dpo.pair_dataset(tmp_path / "a.parquet", tok, cut)
    assert dropped == sum(n >= cut for n in lengths) and len(kept) == 12 - dropped > 0
    with pytest.raises(InputError, match="whose prompt fits in max_seq_len 2"):
        dpo.pair_dataset(tmp_path / "a.parquet", tok, 2)


# --------------------------------------------------------------------------- learning


@pytest.fixture(scope="module")
def learned(tiny):
    return run(tiny, tiny["root"] / "runs" / "learned")


def test_margin_and_accuracy_on_val_rise(learned):
    first, *_, last = evals(learned)
    assert first["step"] == 0 and last["step"] == 24
    # the policy starts as the reference: every reward is exactly zero, no pair ranked right
    assert first["rewards/margins"] == 0.0 and first["rewards/accuracies"] == 0.0
    final = learned.summary["final_eval"]
    assert final == {k: v for k, v in last.items() if k not in ("kind", "step", "epoch")}
    assert final["rewards/margins"] > 1.0 and final["rewards/accuracies"] >= 0.9
    assert final["loss"] < 0.5 * first["loss"]
    train = [r for r in learned.summary["progress"] if r["kind"] == "train"]
    assert [r["step"] for r in train] == [4, 8, 12, 16, 20, 24]
    assert train[-1]["rewards/margins"] > train[0]["rewards/margins"]


def test_run_writes_its_records(learned):
    out = Path(learned.summary["out"])
    lines = [json.loads(line) for line in (out / dpo.LOG_FILE).read_text().splitlines()]
    assert [r for r in lines if r["kind"] in ("train", "eval")] == learned.summary["progress"]
    assert json.loads((out / "summary.json").read_text())["final_eval"] == learned.summary["final_eval"]
    table = (out / "progress.md").read_text()
    assert "| Step | Split | Loss | Chosen reward | Rejected reward | Margin | Accuracy | Token efficiency |" in table
    assert "| 24 | eval |" in table and "**Final eval** (step 24)" in table
    assert "**Batching**: grouped; token efficiency " in table
    assert [p.name for p in dpo.complete_checkpoints(out)] == ["checkpoint-8", "checkpoint-16", "checkpoint-24"]
    adapter = load_file(out / "adapter" / "adapter_model.safetensors")
    assert adapter and not any(".ref." in k for k in adapter)
    assert learned.summary["train_pairs"] == 48 and learned.summary["val_pairs"] == 16


# --------------------------------------------------------------------------- --from a train-sft run


def sft_run(tiny, path):
    """A train-sft run directory whose adapter moves the policy away from the base (B drawn, not zero)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(3)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny["model"]),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.2)
    model.save_pretrained(path / "adapter")
    return path


def test_from_an_sft_run_the_reference_is_the_sft_policy(tiny, learned):
    run_dir = sft_run(tiny, tiny["root"] / "runs" / "sft")
    start = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    result = run(tiny, tiny["root"] / "runs" / "from_sft", from_run=run_dir)
    first, last = evals(result)[0], evals(result)[-1]
    assert first["rewards/chosen"] == 0.0 and first["rewards/margins"] == 0.0  # reference == starting policy
    base_first = evals(learned)[0]  # the base model's log-probabilities on the same val pairs
    assert first["logps/chosen"] != pytest.approx(base_first["logps/chosen"], rel=1e-3)  # ... and it is the SFT one
    assert last["rewards/margins"] > 1.0 and last["rewards/accuracies"] >= 0.9
    assert result.summary["from"] == str(run_dir / "adapter") and result.summary["lora"]["r"] == 4
    # the reference copy stayed frozen at the SFT weights; the trained adapter moved from them
    ref = {n.replace(".ref.", "."): p.detach() for n, p in result.model.named_parameters() if ".ref." in n}
    trained = load_file(tiny["root"] / "runs" / "from_sft" / "adapter" / "adapter_model.safetensors")
    assert set(ref) == set(start) == set(trained)
    assert all(torch.equal(ref[k].cpu(), start[k]) for k in start)
    assert any(not torch.equal(trained[k], start[k]) for k in start)


# --------------------------------------------------------------------------- resume


@pytest.mark.parametrize("batching", ["grouped", "random"])
def test_resume_continues_where_the_run_stopped(tiny, batching):
    out = tiny["root"] / "runs" / f"resumed_{batching}"
    # 6 steps an epoch: checkpoint 8 is inside the second epoch, whose first 2 steps the resumed run skips
    cfg = config(tiny, max_steps=12, eval_every=4, save_every=4, log_every=2, batching=batching)
    run(tiny, out, dataclasses.replace(cfg, max_steps=8))
    with pytest.raises(InputError, match="--resume auto"):
        run(tiny, out, cfg)
    resumed = run(tiny, out, cfg, resume="auto")
    whole = run(tiny, tiny["root"] / "runs" / f"whole_{batching}", cfg)
    kinds = [r["kind"] for r in json.loads((out / "checkpoint-12" / dpo.RUN_FILE).read_text())["history"]]
    assert kinds.count("resume") == 1 and resumed.summary["steps"] == 12
    assert [r["step"] for r in resumed.summary["progress"]] == [r["step"] for r in whole.summary["progress"]]
    # the same pairs in the same micro-batches: the same tokens, the same losses
    assert [r["token_efficiency"] for r in resumed.summary["progress"] if r["kind"] == "train"] == \
        [r["token_efficiency"] for r in whole.summary["progress"] if r["kind"] == "train"]
    assert (resumed.summary["real_tokens"], resumed.summary["computed_tokens"]) == \
        (whole.summary["real_tokens"], whole.summary["computed_tokens"])
    assert [r["loss"] for r in resumed.summary["progress"]] == \
        pytest.approx([r["loss"] for r in whole.summary["progress"]], rel=1e-5)
    a = load_file(out / "adapter" / "adapter_model.safetensors")
    b = load_file(tiny["root"] / "runs" / f"whole_{batching}" / "adapter" / "adapter_model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert resumed.summary["final_eval"]["rewards/margins"] == pytest.approx(
        whole.summary["final_eval"]["rewards/margins"], rel=1e-4)


def test_resume_refuses_other_settings(tiny):
    out = tiny["root"] / "runs" / "other"
    run(tiny, out, config(tiny, max_steps=4, save_every=4))
    with pytest.raises(InputError) as err:
        run(tiny, out, config(tiny, max_steps=8, save_every=4, beta=0.5), resume="auto")
    assert [p.key for p in err.value.problems] == ["train.dpo.beta"]
    with pytest.raises(InputError, match="past max_steps") as err:
        run(tiny, out, config(tiny, max_steps=2, save_every=4), resume="auto")
    assert err.value.problems[0].key == "train.dpo.max_steps"
    with pytest.raises(InputError) as err:
        run(tiny, out, config(tiny, max_steps=8, save_every=4, batching="random"), resume="auto")
    assert [p.key for p in err.value.problems] == ["train.dpo.batching"]
    record = out / "checkpoint-4" / dpo.RUN_FILE  # a checkpoint from before [train.dpo] batching drew at random
    saved = json.loads(record.read_text())
    del saved["meta"]["config"]["batching"]
    record.write_text(json.dumps(saved))
    with pytest.raises(InputError, match="trained with 'random', this run has 'grouped'"):
        run(tiny, out, config(tiny, max_steps=8, save_every=4), resume="auto")


# --------------------------------------------------------------------------- errors


def test_bad_values_name_their_keys_and_write_nothing(tiny, tmp_path):
    with pytest.raises(InputError) as err:
        run(tiny, tmp_path / "out", config(tiny, beta=0.0, max_steps=0))
    assert {p.key for p in err.value.problems} == {"train.dpo.beta", "train.dpo.max_steps"}
    assert not (tmp_path / "out").exists()


def test_missing_build_and_missing_sft_run_write_nothing(tiny, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        dpo.train(config(tiny), train_path=tmp_path / "preferences_train.parquet",
                  val_path=tmp_path / "preferences_val.parquet", out_dir=tmp_path / "out", say=lambda _: None)
    with pytest.raises(InputError) as err:
        run(tiny, tmp_path / "out", from_run=tmp_path / "no_run")
    assert err.value.problems[0].key == "--from"
    assert not (tmp_path / "out").exists()


def test_a_file_of_another_schema_is_named(tiny, tmp_path):
    table = make_preferences(4, 1).drop_columns(["rejected"])
    pq.write_table(table, tmp_path / "preferences_train.parquet")
    with pytest.raises(InputError) as err:
        dpo.pair_dataset(tmp_path / "preferences_train.parquet", tokenizer_of(tiny), 64)
    assert err.value.problems[0].column == "rejected"
