"""DPO trainer throughput on CPU, against TRL's DPOTrainer called bare in the same run.

    python benchmarks/dpo.py [--steps 60] [--repeats 3] [--threads 1] [--json]

For two locally built Llama-architecture models (``prover_models.tiny_llama``: 64-wide
x 2 layers, and 256-wide x 4 layers) with LoRA r 8 on all seven projections, on the
same preference file (512 train pairs, 16 val pairs):

* baseline: ``trl.DPOTrainer`` given the file's prompt / chosen / rejected text as a
  ``datasets.Dataset``, a ``peft.LoraConfig`` and a DPOConfig of the same batch,
  learning rate, beta and length, no evaluation and no checkpoint -- TRL alone;
* ``dpo.train``: the trainer (train-sft's tokenization, the step-0 evaluation on the 16
  val pairs, metrics.jsonl, the final checkpoint and its run record).

Both time ``Trainer.train()`` only (tokenization and model loading excluded). Steps
are batch 4 x grad_accum 2 = 8 pairs (16 sequences: chosen and rejected). One thread
by default: tiny matrices gain nothing from more, and a shared machine makes them
thrash. The baseline's sequences are one token longer (TRL appends EOS).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

from prover_data.manifest import DPOTrainer  # noqa: E402
from prover_models import dpo  # noqa: E402
from prover_models.tiny_llama import build_tiny_llama  # noqa: E402
from tests.test_dpo import make_preferences  # noqa: E402

SIZES = {"tiny (64 x 2)": dict(hidden_size=64, layers=2, vocab_size=512),
         "small (256 x 4)": dict(hidden_size=256, layers=4, vocab_size=1024)}


def bare_trl(model_dir: Path, cfg: DPOTrainer, train_path: Path, out: Path) -> float:
    """Steps/s of TRL's DPOTrainer on the file's text, with its own preprocessing."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer as TRLDPOTrainer

    rows = pq.read_table(train_path, columns=["prompt", "chosen", "rejected"]).to_pylist()
    args = DPOConfig(output_dir=str(out), max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
                     gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.learning_rate, beta=cfg.beta,
                     max_length=cfg.max_seq_len, lr_scheduler_type="constant_with_warmup", bf16=False, use_cpu=True,
                     gradient_checkpointing=False, save_strategy="no", report_to=[], disable_tqdm=True,
                     logging_steps=cfg.log_every, seed=cfg.seed)
    trainer = TRLDPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir), args=args, train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(model_dir),
        peft_config=LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                               target_modules=list(cfg.target_modules), task_type="CAUSAL_LM"))
    started = time.perf_counter()
    trainer.train()
    return cfg.max_steps / (time.perf_counter() - started)


def measure(work: Path, steps: int, repeats: int) -> list[dict]:
    build = work / "build"
    build.mkdir()
    train = make_preferences(512, 1)
    pq.write_table(train, build / "preferences_train.parquet")
    pq.write_table(make_preferences(16, 2), build / "preferences_val.parquet")
    texts = [r["prompt"] + t for r in train.to_pylist() for t in (r["chosen"], r["rejected"])]
    rows = []
    for label, size in SIZES.items():
        name = label.split()[0]
        model_dir = build_tiny_llama(work / name, texts, **size)
        cfg = DPOTrainer(base_model=str(model_dir), lora_r=8, lora_alpha=16, learning_rate=1e-3, max_steps=steps,
                         lr_schedule="constant", batch_size=4, grad_accum=2, max_seq_len=256, eval_every=10**9,
                         save_every=10**9, log_every=10, gradient_checkpointing=False)
        bases, runs = [], []
        for i in range(repeats):  # interleaved, so drifting machine load falls on both alike
            bases.append(bare_trl(model_dir, cfg, build / "preferences_train.parquet", work / f"bare-{name}-{i}"))
            runs.append(dpo.train(cfg, train_path=build / "preferences_train.parquet",
                                  val_path=build / "preferences_val.parquet", out_dir=work / f"run-{name}-{i}",
                                  say=lambda _: None).summary)
        base, s = max(bases), max(runs, key=lambda r: r["steps_per_s"])  # best of each: least disturbed
        rows.append({"model": label, "trainable": s["trainable"], "baseline_steps_per_s": base,
                     "steps_per_s": s["steps_per_s"], "pairs_per_s": s["pairs_per_s"],
                     "ratio_vs_baseline": s["steps_per_s"] / base})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved runs of each; the best is reported")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(Path(tmp), args.steps, args.repeats)
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps({"rows": rows, "peak_rss_mib": peak_rss_mib, "threads": args.threads}, indent=2))
        return
    print("| model | params (LoRA) | bare TRL steps/s | train-dpo steps/s | pairs/s | train-dpo / bare |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['trainable']} | {r['baseline_steps_per_s']:.1f} | {r['steps_per_s']:.1f} | "
              f"{r['pairs_per_s']:.0f} | {r['ratio_vs_baseline']:.2f} |")
    print(f"\n{args.steps} steps of 8 pairs each, best of {args.repeats} interleaved runs, torch threads "
          f"{args.threads}, peak RSS {peak_rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
