"""SFT trainer on CPU: its overhead against a bare loop, and what each batching computes.

    python benchmarks/sft.py [--part overhead|batching|all] [--steps 60] [--threads 1] [--device cpu] [--json]

``overhead``: for two locally built Llama-architecture models (``prover_models.tiny_llama``:
64-wide x 2 layers, and 256-wide x 4 layers) with LoRA r 8 on all seven projections:

* baseline: the same micro-batches pre-tokenized and padded once, then forward
  (the model's own loss), backward, AdamW step -- the model's cost alone;
* ``sft.train``: the trainer's loop (tokenization on access, padding, token-weighted
  loss over grad accumulation, grad clipping, logging, the final checkpoint), with and
  without activation checkpointing.

``batching``: on pairs whose token lengths follow BurnQED's (``prover_data.synth.sft_lengths``):

* token efficiency (real tokens over computed tokens) of ``random``, ``grouped`` and
  ``packed`` over one epoch of 100,000 sampled lengths, cut at 1,024;
* tokens/s of ``sft.train`` under each batching, and of TRL's ``SFTTrainer`` with its
  length grouping (4 x 2 pairs) and with its padding-free best-fit packing (2 rows of
  1,024 tokens), on the same pairs, model (256 x 4) and LoRA settings; train-sft with 4 x
  2 pairs, ``packed`` with 2 rows of at most 1,024 tokens.

One thread by default: tiny matrices gain nothing from more, and a shared 2-core
machine makes them thrash.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

from prover_data.manifest import SFTTrainer  # noqa: E402
from prover_data.synth.sft_lengths import sample_lengths, write_sft_pairs  # noqa: E402
from prover_models import sft  # noqa: E402
from prover_models.batching import StepPlan  # noqa: E402
from prover_models.data import SFTPairs, format_prompt, pad_sft_batch  # noqa: E402
from prover_models.tiny_llama import build_tiny_llama  # noqa: E402
from tests.test_sft import make_pairs  # noqa: E402

SIZES = {"tiny (64 x 2)": dict(hidden_size=64, layers=2, vocab_size=512),
         "small (256 x 4)": dict(hidden_size=256, layers=4, vocab_size=1024)}


# --------------------------------------------------------------------------- overhead


def baseline(model_dir: Path, cfg: SFTTrainer, train_path: Path, steps: int) -> float:
    """Steps/s of forward + backward + AdamW on pre-built batches of the same rows."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    data = SFTPairs(train_path, tok, cfg.max_seq_len)
    batches = [[pad_sft_batch([data[i] for i in rows], tok.pad_token_id)
                for rows in sft.step_rows(s, cfg, data.lengths)] for s in range(steps)]
    model = sft.load_model(model_dir, cfg, "cpu")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    model.train()
    started = None
    for s, micro in enumerate(batches):
        if s == 2:
            started = time.perf_counter()  # after two warm-up steps
        for b in micro:
            (model(**b).loss / len(micro)).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (steps - 2) / (time.perf_counter() - started)


def measure_overhead(work: Path, steps: int) -> list[dict]:
    build = work / "build"
    build.mkdir()
    train = make_pairs(512, 1)
    pq.write_table(train, build / "sft_train.parquet")
    pq.write_table(make_pairs(64, 2), build / "sft_val.parquet")
    texts = [format_prompt(r["state_pp"]) + r["tactic"] for r in train.to_pylist()]
    rows = []
    for label, size in SIZES.items():
        model_dir = build_tiny_llama(work / label.split()[0], texts, **size)
        cfg = SFTTrainer(base_model=str(model_dir), lora_r=8, lora_alpha=16, learning_rate=1e-3, max_steps=steps,
                         batch_size=4, grad_accum=2, max_seq_len=256, eval_every=10**9, eval_examples=16,
                         save_every=10**9, log_every=10, gradient_checkpointing=False, batching="random")
        base = baseline(model_dir, cfg, build / "sft_train.parquet", steps)
        for checkpointing in (False, True):
            run = sft.train(dataclasses.replace(cfg, gradient_checkpointing=checkpointing),
                            train_path=build / "sft_train.parquet", val_path=build / "sft_val.parquet",
                            out_dir=work / f"run-{label.split()[0]}-{checkpointing}", say=lambda _: None)
            s = run.summary
            rows.append({"model": label, "params": s["total_params"], "trainable": s["trainable"],
                         "activation_checkpointing": checkpointing, "baseline_steps_per_s": base,
                         "steps_per_s": s["steps_per_s"], "samples_per_s": s["samples_per_s"],
                         "ratio_vs_baseline": s["steps_per_s"] / base})
    return rows


# --------------------------------------------------------------------------- batching


def efficiency_table(n: int = 100_000, max_len: int = 1024) -> list[dict]:
    """Token efficiency over one epoch of ``n`` BurnQED-distributed lengths, cut at ``max_len``."""
    lengths = np.minimum(sample_lengths(n, seed=0), max_len)
    settings = [("random", dict(batch_size=4)), ("random", dict(batch_size=8)),
                ("grouped", dict(batch_size=4, group_window=50)), ("grouped", dict(batch_size=4, group_window=64)),
                ("grouped", dict(batch_size=8, group_window=64)), ("packed", dict(max_tokens=4096)),
                ("packed", dict(max_tokens=1024))]
    rows = []
    for batching, kw in settings:
        plan = StepPlan(lengths, batching=batching, seed=0, grad_accum=1, **{"batch_size": 4, **kw})
        steps = len(plan.epoch_micro_batches(0)) if batching != "random" else n // plan.batch_size
        real, computed, pairs = plan.tokens(0, steps)
        fill = real / (steps * kw["max_tokens"]) if batching == "packed" else None
        rows.append({"batching": batching, **kw, "micro_batches": steps, "pairs": pairs,
                     "token_efficiency": real / computed, "budget_fill": fill})
    return rows


def _length_data(work: Path, pairs: int) -> tuple[Path, Path, dict]:
    """Pairs of BurnQED's lengths, the 256 x 4 model with a tokenizer trained on them, their measured lengths."""
    from transformers import AutoTokenizer

    build = work / "lengths"
    write_sft_pairs(build, pairs, seed=0)
    table = pq.read_table(build / "sft_train.parquet")
    texts = [format_prompt(s) + t for s, t in zip(table.column("state_pp").to_pylist(),
                                                  table.column("tactic").to_pylist())]
    model_dir = build_tiny_llama(work / "small-lengths", texts, **SIZES["small (256 x 4)"])
    data = SFTPairs(build / "sft_train.parquet", AutoTokenizer.from_pretrained(model_dir), 10**6)
    q = np.percentile(data.full_lengths, [25, 50, 75, 90, 95, 99]).round().astype(int).tolist()
    shape = {"p25_p50_p75_p90_p95_p99": q, "mean": float(data.full_lengths.mean()),
             "std": float(data.full_lengths.std()), "over_1024": float((data.full_lengths > 1024).mean())}
    return build, model_dir, shape


def _trl_tokens_per_s(model_dir: Path, build: Path, work: Path, steps: int, mode: str, device: str) -> dict:
    """TRL's SFTTrainer on the same pairs: ``mode`` "group_by_length" or "padding_free"."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer as TRLTrainer

    table = pq.read_table(build / "sft_train.parquet")
    dataset = Dataset.from_dict({"prompt": [format_prompt(s) for s in table.column("state_pp").to_pylist()],
                                 "completion": table.column("tactic").to_pylist()})
    marks = []

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            marks.append((time.perf_counter(), 0))

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "num_tokens" in logs:
                marks.append((time.perf_counter(), logs["num_tokens"]))

    # TRL's padding-free mode truncates only when it packs: best-fit-decreasing packing into rows of
    # max_length (position ids restarting per pair), one row per micro-batch, as train-sft's packed.
    extra = ({"train_sampling_strategy": "group_by_length", "per_device_train_batch_size": 4}
             if mode == "group_by_length" else
             {"packing": True, "packing_strategy": "bfd", "padding_free": True, "per_device_train_batch_size": 1})
    args = SFTConfig(output_dir=str(work / f"trl-{mode}"),
                     gradient_accumulation_steps=2, max_steps=steps, learning_rate=1e-3, lr_scheduler_type="cosine",
                     max_length=1024, logging_steps=1, save_strategy="no", report_to=[], use_cpu=device == "cpu",
                     bf16=device == "cuda",
                     dataloader_num_workers=0, gradient_checkpointing=False, seed=0, disable_tqdm=True, **extra)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if device == "cuda" else torch.float32)
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=list(SFTTrainer().target_modules),
                      task_type="CAUSAL_LM")
    trainer = TRLTrainer(model=model, args=args, train_dataset=dataset,
                         processing_class=AutoTokenizer.from_pretrained(model_dir), peft_config=lora,
                         callbacks=[Clock()])
    trainer.train()
    (t0, n0), (t1, n1) = marks[0], marks[-1]
    return {"trainer": f"TRL SFTTrainer ({mode})", "tokens_per_s": (n1 - n0) / (t1 - t0), "seconds": t1 - t0,
            "steps": steps, "token_efficiency": None}


def measure_batching(work: Path, steps: int, device: str = "cpu", pairs: int = 2000, rounds: int = 2) -> dict:
    """Every trainer ``rounds`` times, interleaved; the best round of each (a shared machine's load varies)."""
    build, model_dir, shape = _length_data(work, pairs)
    cfg = SFTTrainer(base_model=str(model_dir), lora_r=8, lora_alpha=16, learning_rate=1e-3, max_steps=steps,
                     batch_size=4, grad_accum=2, max_seq_len=1024, eval_every=10**9, eval_examples=16,
                     save_every=10**9, log_every=10, gradient_checkpointing=False, max_tokens=1024)
    best: dict[str, dict] = {}
    for r in range(rounds):
        for batching in ("random", "grouped", "packed"):
            run = sft.train(dataclasses.replace(cfg, batching=batching), train_path=build / "sft_train.parquet",
                            val_path=build / "sft_val.parquet", out_dir=work / f"run-{batching}-{r}",
                            say=lambda _: None, device=device)
            s = run.summary
            _keep(best, {"trainer": f"train-sft ({batching})", "tokens_per_s": s["tokens_per_s"],
                         "seconds": s["runtime_s"], "steps": s["steps"], "token_efficiency": s["token_efficiency"]})
        for mode in ("group_by_length", "packing bfd"):
            _keep(best, _trl_tokens_per_s(model_dir, build, work / str(r), steps, mode, device))
    rows = list(best.values())
    for row in rows:
        row["vs_random"] = row["tokens_per_s"] / rows[0]["tokens_per_s"]
    return {"lengths": shape, "efficiency": efficiency_table(), "throughput": rows, "rounds": rounds}


def _keep(best: dict, row: dict) -> None:
    if row["trainer"] not in best or row["tokens_per_s"] > best[row["trainer"]]["tokens_per_s"]:
        best[row["trainer"]] = row


# --------------------------------------------------------------------------- output


def _print_overhead(rows: list[dict], steps: int) -> None:
    print("| model | params (LoRA) | act. ckpt | baseline steps/s | trainer steps/s | samples/s | trainer / baseline |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['trainable']} | {'on' if r['activation_checkpointing'] else 'off'} | "
              f"{r['baseline_steps_per_s']:.1f} | {r['steps_per_s']:.1f} | {r['samples_per_s']:.0f} | "
              f"{r['ratio_vs_baseline']:.2f} |")
    print(f"\n{steps} steps of 8 pairs each")


def _print_batching(b: dict) -> None:
    print(f"synthetic pairs under the benchmark's tokenizer: {b['lengths']}\n")
    print("| batching | setting | micro-batches | token efficiency | budget fill |")
    print("|---|---|---|---|---|")
    for r in b["efficiency"]:
        setting = ", ".join(f"{k} {r[k]}" for k in ("batch_size", "group_window", "max_tokens") if k in r)
        fill = f"{r['budget_fill']:.3f}" if r["budget_fill"] is not None else ""
        print(f"| {r['batching']} | {setting} | {r['micro_batches']:,} | {r['token_efficiency']:.3f} | {fill} |")
    print("\n| trainer | steps | seconds | real tokens/s | vs random | token efficiency |")
    print("|---|---|---|---|---|---|")
    for r in b["throughput"]:
        eff = f"{r['token_efficiency']:.3f}" if r["token_efficiency"] is not None else ""
        print(f"| {r['trainer']} | {r['steps']} | {r['seconds']:.1f} | {r['tokens_per_s']:,.0f} | "
              f"{r['vs_random']:.2f} | {eff} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["overhead", "batching", "all"], default="all")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="for the batching part")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    out = {"threads": args.threads, "steps": args.steps}
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("overhead", "all"):
            (Path(tmp) / "o").mkdir()
            out["overhead"] = measure_overhead(Path(tmp) / "o", args.steps)
        if args.part in ("batching", "all"):
            (Path(tmp) / "b").mkdir()
            out["batching"] = measure_batching(Path(tmp) / "b", args.steps, args.device)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps(out, indent=2))
        return
    if "overhead" in out:
        _print_overhead(out["overhead"], args.steps)
    if "batching" in out:
        _print_batching(out["batching"])
    print(f"\ntorch threads {args.threads}, peak RSS {out['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
