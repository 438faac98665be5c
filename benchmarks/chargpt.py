"""Char-level GPT training throughput at the plan's configuration, as model FLOP utilization.

    python benchmarks/chargpt.py [--micro-batch 8] [--steps 5] [--device cpu] [--json]

Builds ``prover_models.chargpt.model.CharGPT`` at the plan's shape (d_model 320, 8
layers, 10 heads, d_mlp 1280, context 512, RoPE, tied embeddings: ~10M parameters) and
times the training step the trainer runs (forward, loss, backward, clip, AdamW) on
random bytes. The baseline, measured in the same run on the same device, is a square
float32 matrix multiply (``torch.mm``) of the model's width: the machine's dense
throughput. Training FLOPs per token are counted as 6 x parameters + the attention
term 12 x layers x context x d_model (the usual estimate), so the ratio is the share
of the device's matmul throughput the training step achieves.

The plan trains ~60 epochs over a 3.68M-character corpus (~216M tokens): at the
measured tokens/s the script also prints how long one epoch and the whole plan take.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PLAN_CORPUS_BYTES = 3_680_000
PLAN_EPOCHS = 60


def _timed(fn, steps: int, sync) -> list[float]:
    fn()  # warm-up: allocator, kernels
    sync()
    out = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t)
    return out


def matmul_flops(device, size: int, sync, steps: int = 10) -> float:
    import torch

    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    times = _timed(lambda: torch.mm(a, b), steps, sync)
    return 2 * size ** 3 / statistics.median(times)


def train_step_seconds(config, micro_batch: int, steps: int, device, sync) -> tuple[float, int]:
    import torch

    from prover_models.chargpt.model import CharGPT

    torch.manual_seed(0)
    model = CharGPT(config).to(device)
    optimizer = torch.optim.AdamW(model.optimizer_groups(0.1), lr=3e-4, betas=(0.9, 0.95))
    x = torch.randint(0, 256, (micro_batch, config.context_length), device=device)
    y = torch.randint(0, 256, (micro_batch, config.context_length), device=device)

    def step():
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return statistics.median(_timed(step, steps, sync)), model.num_parameters()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--micro-batch", type=int, default=8, help="sequences of 512 bytes per step")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import torch

    from prover_data.console import print_json, print_table
    from prover_models.chargpt.model import GPTConfig

    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    config = GPTConfig(dropout=0.0)
    seconds, params = train_step_seconds(config, args.micro_batch, args.steps, device, sync)
    tokens = args.micro_batch * config.context_length
    tokens_per_s = tokens / seconds
    flops_per_token = 6 * params + 12 * config.n_layers * config.context_length * config.d_model
    achieved = flops_per_token * tokens_per_s
    peak = matmul_flops(device, 4 * config.d_model, sync)
    doc = {
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(),
        "parameters": params,
        "config": {"d_model": config.d_model, "n_layers": config.n_layers, "n_heads": config.n_heads,
                   "d_mlp": config.d_mlp, "context_length": config.context_length},
        "micro_batch": args.micro_batch,
        "step_seconds": round(seconds, 4),
        "tokens_per_s": round(tokens_per_s),
        "train_gflops": round(achieved / 1e9, 2),
        "matmul_gflops": round(peak / 1e9, 2),
        "utilization": round(achieved / peak, 3),
        "epoch_minutes": round(PLAN_CORPUS_BYTES / tokens_per_s / 60, 1),
        "plan_hours": round(PLAN_EPOCHS * PLAN_CORPUS_BYTES / tokens_per_s / 3600, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if args.json:
        print_json(doc)
        return
    print_table(f"char-GPT training step on {doc['device']} ({doc['threads']} threads)", ["figure", "value"], [
        ("parameters", f"{params:,}"),
        ("step (micro-batch x 512 bytes)", f"{args.micro_batch} x 512 in {seconds * 1000:.0f} ms"),
        ("training tokens/s", f"{tokens_per_s:,.0f}"),
        ("achieved GFLOP/s (6N + attention)", f"{achieved / 1e9:.1f}"),
        ("torch.mm GFLOP/s (baseline, same run)", f"{peak / 1e9:.1f}"),
        ("utilization vs matmul", f"{achieved / peak:.0%}"),
        ("one epoch of the plan's 3.68 MB corpus", f"{doc['epoch_minutes']:.1f} min"),
        (f"the plan's {PLAN_EPOCHS} epochs", f"{doc['plan_hours']:.1f} h"),
        ("peak RSS", f"{doc['peak_rss_mb']:,} MB"),
    ])


if __name__ == "__main__":
    main()
