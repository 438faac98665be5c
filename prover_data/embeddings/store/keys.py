"""State hashes as NumPy matrices, and a sorted index that finds them without Python loops.

Everything in the store is keyed by ``identity.state_hash`` (16 bytes). Keys travel as
``uint8 [n, 16]`` matrices: one buffer, no per-row objects, the same bytes Arrow's
``fixed_size_binary(16)`` holds. ``HashIndex`` sorts keys once (as two big-endian
64-bit halves, so the order is plain byte order) and answers lookups with
``searchsorted``: 217K lookups take milliseconds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from prover_data.errors import InputError, Problem
from prover_data.identity import STATE_HASH_BYTES, state_hash


def key_matrix(hashes, *, what: str = "state hashes") -> np.ndarray:
    """``hashes`` as a C-contiguous ``uint8 [n, 16]`` matrix.

    Accepts a ``uint8 [n, 16]`` array, a NumPy ``S16``/object array or list of 16-byte
    ``bytes``, or an Arrow ``fixed_size_binary(16)`` / ``binary`` array (chunked or not).
    """
    if isinstance(hashes, pa.ChunkedArray):
        hashes = hashes.combine_chunks() if hashes.num_chunks != 1 else hashes.chunk(0)
    if isinstance(hashes, pa.Array):
        if hashes.null_count:
            raise InputError.one(what, "null state hash")
        if pa.types.is_fixed_size_binary(hashes.type) and hashes.type.byte_width == STATE_HASH_BYTES:
            data = np.frombuffer(hashes.buffers()[1], dtype=np.uint8)
            start = hashes.offset * STATE_HASH_BYTES
            return data[start:start + len(hashes) * STATE_HASH_BYTES].reshape(-1, STATE_HASH_BYTES).copy()
        hashes = hashes.to_pylist()
    arr = np.asarray(hashes) if not isinstance(hashes, np.ndarray) else hashes
    if arr.dtype == np.uint8 and arr.ndim == 2:
        if arr.shape[1] != STATE_HASH_BYTES:
            raise InputError.one(what, f"expected {STATE_HASH_BYTES}-byte hashes, got rows of {arr.shape[1]} bytes")
        return np.ascontiguousarray(arr)
    if arr.ndim == 1 and arr.size == 0:
        return np.zeros((0, STATE_HASH_BYTES), np.uint8)
    if arr.dtype.kind == "S" and arr.dtype.itemsize == STATE_HASH_BYTES:
        return np.frombuffer(np.ascontiguousarray(arr).tobytes(), np.uint8).reshape(-1, STATE_HASH_BYTES)
    if arr.dtype == object or arr.dtype.kind == "S":
        items = arr.tolist()
        bad = [i for i, h in enumerate(items) if not isinstance(h, (bytes, bytearray)) or len(h) != STATE_HASH_BYTES]
        if bad:
            raise InputError.one(what, f"expected {STATE_HASH_BYTES}-byte hashes, row {bad[0]} is {items[bad[0]]!r}",
                                 row=bad[0], count=len(bad))
        return np.frombuffer(b"".join(items), np.uint8).reshape(-1, STATE_HASH_BYTES)
    raise InputError.one(what, f"expected uint8 [n, {STATE_HASH_BYTES}] or 16-byte hashes, got {arr.dtype} {arr.shape}")


def hash_states(states) -> np.ndarray:
    """``identity.state_hash`` of each state string, as a key matrix."""
    if isinstance(states, (pa.Array, pa.ChunkedArray)):
        states = states.to_pylist()
    return np.frombuffer(b"".join(state_hash(s) for s in states), np.uint8).reshape(-1, STATE_HASH_BYTES)


def to_arrow(keys: np.ndarray) -> pa.FixedSizeBinaryArray:
    keys = np.ascontiguousarray(keys, dtype=np.uint8)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(STATE_HASH_BYTES), len(keys), [None, pa.py_buffer(keys)])


def hex_of(key: np.ndarray | bytes) -> str:
    return bytes(key).hex()


def halves(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) 64-bit big-endian halves: sorting by them is sorting by bytes."""
    k = np.ascontiguousarray(keys, dtype=np.uint8).view(">u8").reshape(-1, 2)
    return k[:, 0].astype(np.uint64), k[:, 1].astype(np.uint64)


def sort_order(keys: np.ndarray) -> np.ndarray:
    """Row order that sorts ``keys`` by their bytes."""
    hi, lo = halves(keys)
    return np.lexsort((lo, hi))


def first_occurrences(keys: np.ndarray) -> np.ndarray:
    """Boolean mask keeping the first row of each distinct key."""
    if len(keys) == 0:
        return np.zeros(0, bool)
    order = sort_order(keys)
    hi, lo = halves(keys[order])
    new = np.ones(len(order), bool)
    new[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
    # among equal keys lexsort is stable, so the first of each run is the earliest row
    keep = np.zeros(len(keys), bool)
    keep[order[new]] = True
    return keep


class HashIndex:
    """Sorted 16-byte keys; ``lookup`` maps query keys to row numbers (-1 when absent)."""

    def __init__(self, keys: np.ndarray, *, presorted: bool = False):
        keys = np.ascontiguousarray(keys, dtype=np.uint8).reshape(-1, STATE_HASH_BYTES)
        self._order = None if presorted else sort_order(keys)
        hi, lo = halves(keys if presorted else keys[self._order])
        self._hi, self._lo = hi, lo
        self._ambiguous = bool(len(hi) > 1 and np.any(hi[1:] == hi[:-1]))

    def __len__(self) -> int:
        return len(self._hi)

    def lookup(self, queries) -> np.ndarray:
        q = key_matrix(queries)
        if len(self._hi) == 0 or len(q) == 0:
            return np.full(len(q), -1, np.int64)
        qh, ql = halves(q)
        pos = np.searchsorted(self._hi, qh, side="left")
        pos_c = np.minimum(pos, len(self._hi) - 1)
        found = (self._hi[pos_c] == qh) & (self._lo[pos_c] == ql)
        if self._ambiguous:
            # Two keys share their first 8 bytes (1 in 10^8 at a million keys): search
            # the run of equal high halves for the low half, for those queries only.
            retry = np.flatnonzero(~found & (self._hi[pos_c] == qh))
            for i in retry:
                end = np.searchsorted(self._hi, qh[i], side="right")
                j = pos_c[i] + np.searchsorted(self._lo[pos_c[i]:end], ql[i])
                if j < end and self._lo[j] == ql[i]:
                    pos_c[i], found[i] = j, True
        rows = pos_c if self._order is None else self._order[pos_c]
        return np.where(found, rows, -1).astype(np.int64)

    def contains(self, queries) -> np.ndarray:
        return self.lookup(queries) >= 0


def missing_problem(what: str, keys: np.ndarray, absent: np.ndarray, hint: str, *, of: str = "states") -> InputError:
    """An ``InputError`` naming how many and which keys are absent, out of what: ``of``
    says what ``keys`` are (``"states referenced by contrastive samples"``), so the two
    numbers of "N of M ..." always count the same unit."""
    idx = np.flatnonzero(absent)
    shown = ", ".join(hex_of(keys[i]) for i in idx[:5])
    more = f" and {len(idx) - 5:,} more" if len(idx) > 5 else ""
    return InputError([Problem(what, f"{len(idx):,} of {len(keys):,} {of} have no vector ({shown}{more}); {hint}",
                               count=1, check="missing_vectors")])
