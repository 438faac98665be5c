"""Vectorized checks of the values of Arrow columns, returning the offending rows.

Inputs run to millions of rows, so no Python loop runs over them: masks come from
Arrow compute, text is tested once per distinct value (on the dictionary of a
dictionary-encoded column) and mapped back to file rows through the indices.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def bools(mask) -> np.ndarray:
    """A boolean (chunked) Arrow array as numpy; null counts as false."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def mask_rows(mask) -> np.ndarray:
    """Rows where a boolean (chunked) array is true; null counts as false."""
    return np.flatnonzero(bools(mask))


def text_value_rows(col: pa.ChunkedArray, bad_values: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
    """Rows whose text value is bad, testing each distinct value once.

    ``bad_values`` maps an array of values to a boolean numpy mask. Dictionary-encoded
    chunks are tested on their dictionary and mapped back to rows through the indices.
    """
    out = []
    offset = 0
    cache: dict[tuple, np.ndarray] = {}
    for chunk in col.chunks:
        if pa.types.is_dictionary(chunk.type):
            values, indices = chunk.dictionary, chunk.indices
        else:
            values, indices = chunk, None
        key = (tuple(b.address if b is not None else 0 for b in values.buffers()), values.offset, len(values))
        if key not in cache:
            cache[key] = np.flatnonzero(bad_values(values))
        bad = cache[key]
        if bad.size:
            if indices is None:
                rows = bad
            else:
                rows = mask_rows(pc.is_in(indices, value_set=pa.array(bad, indices.type)))
            out.append(rows + offset)
        offset += len(chunk)
    return np.concatenate(out) if out else np.empty(0, np.int64)


def invalid_utf8(values: pa.Array, block: int = 4096) -> np.ndarray:
    """Mask of values that are not valid UTF-8 (full validation in C, per block)."""
    mask = np.zeros(len(values), dtype=bool)
    try:
        values.validate(full=True)
        return mask
    except pa.ArrowInvalid:
        pass
    binary = values.cast(pa.large_binary() if pa.types.is_large_string(values.type) else pa.binary())
    for start in range(0, len(values), block):
        part = values.slice(start, block)
        try:
            part.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        for i, raw in enumerate(binary.slice(start, block).to_pylist()):
            if raw is not None:
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    mask[start + i] = True
    return mask


def text_at(col: pa.ChunkedArray, row: int) -> object:
    """The raw value of a text column at ``row`` (bytes when it is not valid UTF-8)."""
    value = col.slice(row, 1).combine_chunks()
    if pa.types.is_dictionary(value.type):
        value = value.dictionary.take(value.indices)
    raw = value.cast(pa.large_binary() if pa.types.is_large_string(value.type) else pa.binary())[0].as_py()
    try:
        return raw.decode("utf-8") if raw is not None else None
    except UnicodeDecodeError:
        return raw
