"""SFT trainer throughput on CPU, against a bare training loop measured in the same run.

    python benchmarks/sft.py [--steps 60] [--threads 1] [--json]

For two locally built Llama-architecture models (``prover_models.tiny_llama``: 64-wide
x 2 layers, and 256-wide x 4 layers) with LoRA r 8 on all seven projections:

* baseline: the same micro-batches pre-tokenized and padded once, then forward
  (the model's own loss), backward, AdamW step -- the model's cost alone;
* ``sft.train``: the trainer's loop (tokenization on access, padding, token-weighted
  loss over grad accumulation, grad clipping, logging, the final checkpoint), with and
  without activation checkpointing.

The ratio trainer / baseline is the trainer's overhead; on a 7B model the forward and
backward dwarf it. Steps are batch 4 x grad_accum 2 = 8 pairs. One thread by default:
tiny matrices gain nothing from more, and a shared 2-core machine makes them thrash.
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

import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

from prover_data.manifest import SFTTrainer  # noqa: E402
from prover_models import sft  # noqa: E402
from prover_models.data import SFTPairs, format_prompt, pad_sft_batch  # noqa: E402
from prover_models.tiny_llama import build_tiny_llama  # noqa: E402
from tests.test_sft import make_pairs  # noqa: E402

SIZES = {"tiny (64 x 2)": dict(hidden_size=64, layers=2, vocab_size=512),
         "small (256 x 4)": dict(hidden_size=256, layers=4, vocab_size=1024)}


def baseline(model_dir: Path, cfg: SFTTrainer, train_path: Path, steps: int) -> float:
    """Steps/s of forward + backward + AdamW on pre-built batches of the same rows."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    data = SFTPairs(train_path, tok, cfg.max_seq_len)
    batches = [[pad_sft_batch([data[i] for i in rows], tok.pad_token_id) for rows in sft.step_rows(s, cfg, len(data))]
               for s in range(steps)]
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


def measure(work: Path, steps: int) -> list[dict]:
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
                         save_every=10**9, log_every=10, gradient_checkpointing=False)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(Path(tmp), args.steps)
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps({"rows": rows, "peak_rss_mib": peak_rss_mib, "threads": args.threads}, indent=2))
        return
    print("| model | params (LoRA) | act. ckpt | baseline steps/s | trainer steps/s | samples/s | trainer / baseline |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['trainable']} | {'on' if r['activation_checkpointing'] else 'off'} | "
              f"{r['baseline_steps_per_s']:.1f} | {r['steps_per_s']:.1f} | {r['samples_per_s']:.0f} | "
              f"{r['ratio_vs_baseline']:.2f} |")
    print(f"\n{args.steps} steps of 8 pairs each, torch threads {args.threads}, peak RSS {peak_rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
