"""The three vector dtypes of the store and how their raw bytes are kept.

A vector's dtype is the precision its encoder *ran* in, and the store keeps the
vector in that precision: float16 and bfloat16 as raw 2-byte values, float32 as
4-byte values. NumPy has no bfloat16, so bfloat16 travels as ``uint16`` holding the
top half of a float32 (the bfloat16 bit pattern), converted here and nowhere else.
Casting float32 -> bfloat16 rounds to nearest even, as ``torch.Tensor.to(torch.bfloat16)``
does, so a vector cast here is bit-identical to one cast by torch.
"""

from __future__ import annotations

import numpy as np

DTYPES = ("float16", "bfloat16", "float32")

# What each dtype is stored as: an explicit little-endian NumPy dtype.
STORAGE = {
    "float16": np.dtype("<f2"),
    "bfloat16": np.dtype("<u2"),
    "float32": np.dtype("<f4"),
}


def storage_dtype(dtype: str) -> np.dtype:
    return STORAGE[dtype]


def itemsize(dtype: str) -> int:
    return STORAGE[dtype].itemsize


def to_storage(values: np.ndarray, dtype: str) -> np.ndarray:
    """Float vectors (any float precision) as the raw stored representation of ``dtype``.

    Values too large for float16 become +-inf here; the store's write check names them.
    """
    values = np.asarray(values)
    if dtype == "bfloat16":
        return _float32_to_bfloat16_bits(np.ascontiguousarray(values, dtype=np.float32))
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(values, dtype=STORAGE[dtype])


def to_float32(raw: np.ndarray, dtype: str, out: np.ndarray | None = None) -> np.ndarray:
    """Stored values of ``dtype`` as float32 (exact: every fp16/bf16 value is a float32)."""
    if dtype == "bfloat16":
        widened = raw.astype(np.uint32)
        widened <<= 16
        result = widened.view(np.float32)
        if out is not None:
            out[...] = result
            return out
        return result
    if out is not None:
        out[...] = raw
        return out
    return raw.astype(np.float32)


def _float32_to_bfloat16_bits(x: np.ndarray) -> np.ndarray:
    bits = x.view(np.uint32)
    nan = np.isnan(x)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)  # round half to even
    out = ((bits + rounding) >> 16).astype(np.uint16)
    if nan.any():  # keep NaN a NaN (rounding could carry it into Inf)
        out[nan] = np.uint16(0x7FC0)
    return out
