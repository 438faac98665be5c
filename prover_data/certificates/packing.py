"""Whole certificates packed into fixed-length byte sequences for a byte-level model.

Tokens are UTF-8 bytes (vocabulary 256): no tokenizer to train or version, and Lean's
Unicode (``⊢``, ``ℝ``, ``∀``) is a few bytes each. A row holds ``context_length + 1``
bytes, because the model reads ``context_length`` of them and predicts each next one.

Rows hold whole certificates only, so a proof is never cut between two rows: the model
always sees a proof from its ``@T`` line, as it will when it is prompted with one. A
certificate longer than a row cannot be placed whole and is **left out** (counted as
``too_long``) rather than cut at a step boundary: a cut proof would teach the model
proofs that stop without ``@E``, and the count tells the user when to raise
``context_length`` (the export reports how many certificates exceed 256 … 2048).

Placement is best-fit decreasing: certificates longest first (ties by content, so the
result does not depend on input order), each into the open row with the least room that
still takes it. The rest of a row is padding (byte 0) that carries no loss;
``padding_share`` is the fraction of all row bytes that is padding.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence

import numpy as np

VOCAB_SIZE = 256
PAD = 0


@dataclass(frozen=True)
class Packed:
    tokens: np.ndarray  # uint8 [rows, context_length + 1], PAD after each row's length
    lengths: np.ndarray  # int64 [rows], bytes of certificates in each row
    context_length: int
    certificates: int  # certificates placed
    too_long: int  # certificates left out: longer than a row

    @property
    def rows(self) -> int:
        return len(self.lengths)

    def padding_share(self) -> float:
        return 1.0 - float(self.lengths.sum()) / self.tokens.size if self.tokens.size else 0.0

    def summary(self) -> dict:
        return {
            "sequences": self.rows,
            "certificates": self.certificates,
            "too_long": self.too_long,
            "tokens": int(self.lengths.sum()),
            "padding_share": round(self.padding_share(), 6),
        }


def pack(certificates: Sequence[bytes], context_length: int) -> Packed:
    """Best-fit-decreasing packing of whole certificates into rows of ``context_length + 1``."""
    width = context_length + 1
    order = sorted(range(len(certificates)), key=lambda i: (-len(certificates[i]), certificates[i]))
    placed = [i for i in order if len(certificates[i]) <= width]
    too_long = len(order) - len(placed)

    free: list[tuple[int, int]] = []  # (room left, row) of open rows, sorted
    row_of = np.empty(len(placed), np.int64)
    start = np.empty(len(placed), np.int64)
    used: list[int] = []
    for k, i in enumerate(placed):
        size = len(certificates[i])
        at = bisect.bisect_left(free, (size, -1))
        if at == len(free):
            row, room = len(used), width
            used.append(0)
        else:
            room, row = free.pop(at)
        row_of[k], start[k] = row, used[row]
        used[row] += size
        if room - size:
            bisect.insort(free, (room - size, row))

    # One vectorized scatter of all bytes: byte j of certificate k goes to
    # row_of[k] * width + start[k] + j.
    data = np.frombuffer(b"".join(certificates[i] for i in placed), dtype=np.uint8)
    sizes = np.array([len(certificates[i]) for i in placed], dtype=np.int64)
    tokens = np.full((len(used), width), PAD, dtype=np.uint8)
    if len(data):
        first = np.cumsum(sizes) - sizes
        dest = np.repeat(row_of * width + start - first, sizes) + np.arange(len(data))
        tokens.reshape(-1)[dest] = data
    return Packed(tokens, np.array(used, dtype=np.int64), context_length, len(placed), too_long)
