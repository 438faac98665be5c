"""Where a run computes, and in which precision: the rules every trainer and the probe share.

``auto`` (or no choice) is the GPU when torch sees one, else the CPU. Asking for
``cuda`` where torch sees none is bad input, named as the ``--device`` option, not a
CUDA error from deep inside the first forward pass.
"""

from __future__ import annotations

import torch

from prover_data.errors import InputError


def pick_device(device: str | None) -> str:
    """``cuda`` or ``cpu`` (or the ``cuda:N`` asked for): the device a run computes on."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError.one("--device", f"CUDA is not available to this torch ({torch.__version__}); use --device cpu")
    return device


def resolve_dtype(setting: str, device: str) -> torch.dtype:
    """A ``[train.*] dtype`` on ``device``: ``auto`` is bfloat16 on a GPU that has it, float32 otherwise."""
    if setting == "auto":
        cuda_bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[setting]
