"""Vectors checked at write: zero, NaN, Inf, and values the stored dtype cannot hold.

A bad vector would poison every similarity computed from it (BurnQED's SGLang bug
wrote zero vectors for 10-18% of states), so the store refuses it and names the
state -- by hash and a snippet of its text -- instead of storing it.
"""

from __future__ import annotations

import json

import numpy as np

from prover_data.embeddings.store.dtypes import to_float32
from prover_data.embeddings.store.keys import hex_of
from prover_data.errors import Problem

ZERO_NORM = 1e-6  # BurnQED's threshold for a "zero-norm embedding"
SNIPPET_CHARS = 60


def row_number(row_offset: int | np.ndarray, i: int) -> int:
    """The number a problem gives row ``i``: an offset plus ``i``, or ``row_offset[i]``."""
    return int(row_offset[i]) if isinstance(row_offset, np.ndarray) else row_offset + int(i)


def check_vectors(keys: np.ndarray, values: np.ndarray | None, stored: np.ndarray, dtype: str, *, texts=None,
                  source: str = "vectors", row_offset: int | np.ndarray = 0) -> tuple[np.ndarray, list[Problem]]:
    """(bad-row mask, one problem per bad row): zero, NaN, Inf, overflow or underflow in ``dtype``.

    ``values`` are the vectors before the cast (None when only stored values exist);
    they let a problem say whether the input was bad or the cast made it so.
    """
    f32 = to_float32(stored, dtype)
    nan = np.isnan(f32).any(axis=1)
    inf = np.isinf(f32).any(axis=1) & ~nan
    with np.errstate(over="ignore", invalid="ignore"):
        # einsum widens to float64 in small buffers: two whole float64 copies of the
        # block cost more than the rest of a write
        norm = np.sqrt(np.einsum("ij,ij->i", f32, f32, dtype=np.float64))
    zero = ~nan & ~inf & (norm < ZERO_NORM)
    bad = nan | inf | zero
    problems = []
    if bad.any():
        input_inf = np.isinf(values).any(axis=1) if values is not None else inf
        input_zero = None
        if values is not None:
            v = np.asarray(values, np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                input_zero = np.sqrt(np.einsum("ij,ij->i", v, v)) < ZERO_NORM
        for i in np.flatnonzero(bad):
            if nan[i]:
                what, check = "NaN in vector", "nan_vector"
            elif inf[i]:
                what, check = (("Inf in vector", "inf_vector") if input_inf[i]
                               else (f"value too large for {dtype} (becomes Inf)", "inf_vector"))
            elif input_zero is not None and not input_zero[i]:
                what, check = f"vector underflows to zero in {dtype} (L2 norm < {ZERO_NORM:g})", "zero_vector"
            else:
                what, check = f"zero vector (L2 norm < {ZERO_NORM:g})", "zero_vector"
            problems.append(Problem(source, f"{what}: {name_states(keys, texts, [i])}", row=row_number(row_offset, i),
                                    check=check))
    return bad, problems


def name_states(keys: np.ndarray, texts, rows, limit: int = 3) -> str:
    """The first ``limit`` states of ``rows`` by hash and text snippet, and how many more."""
    rows = list(rows)
    named = []
    for i in rows[:limit]:
        text = ""
        if texts is not None:
            t = texts[i]
            text = " " + json.dumps(t[:SNIPPET_CHARS] + ("..." if len(t) > SNIPPET_CHARS else ""), ensure_ascii=False)
        named.append(f"state {hex_of(keys[i])}{text}")
    more = f" and {len(rows) - limit:,} more" if len(rows) > limit else ""
    return ", ".join(named) + more
