"""BurnQED ``embeddings.parquet``: one vector per goal state (``schema.BURNQED_EMBEDDINGS``).

Such a file runs to gigabytes (217K x 4096 float64), so it is read and checked in
batches; the embedding store imports it batch by batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prover_data.errors import InputError
from prover_data.inputs.arrow_values import bools, invalid_utf8, mask_rows, text_at, text_value_rows
from prover_data.inputs.parquet_files import arrow_error, column_problems, open_parquet
from prover_data.inputs.problems import Findings, shown
from prover_data.schema import BURNQED_EMBEDDINGS


def iter_burnqed_embeddings(path: str | Path, batch_rows: int = 8192) -> Iterator[tuple[pa.Array, np.ndarray]]:
    """Batches of (state strings, float64 vectors ``[n, dim]``) from a BurnQED embeddings.parquet.

    Every vector has the first one's dimension; null states or vectors, null or
    non-finite elements and non-UTF-8 states are errors. Batches are yielded while the
    file is clean; at the first problem the rest of the file is still read (nothing
    more is yielded) so the ``InputError`` names every bad row range. A consumer that
    writes must therefore write atomically. All-zero vectors (a known BurnQED failure)
    are valid here: the embedding store decides what to do with them.
    """
    path = Path(path)
    name = str(path)
    pf, problems = open_parquet(path)
    if pf is None:
        raise InputError(problems)
    problems = column_problems(name, pf.schema_arrow, BURNQED_EMBEDDINGS)
    if problems:
        raise InputError(problems)
    if pf.metadata.num_rows == 0:
        raise InputError.one(name, "no rows", check="no_rows")
    found = Findings(name)
    dim: int | None = None
    offset = 0
    batches = pf.iter_batches(batch_size=batch_rows, columns=["state_pp", "embedding"])
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except (pa.ArrowException, OSError) as e:
            found.rows("corrupt", None, f"corrupt parquet data: {arrow_error(e)}", offset)
            break
        states, vectors = batch.column(0), batch.column(1)
        if not pa.types.is_string(states.type):
            states = states.cast(pa.string()) if not pa.types.is_dictionary(states.type) else \
                states.dictionary.take(states.indices).cast(pa.string())
        dim = _check_embedding_batch(found, states, vectors, offset, dim)
        if not found:
            flat = pc.list_flatten(vectors).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            yield states, flat.reshape(len(vectors), dim)
        offset += len(vectors)
    found.raise_if_any()


def _check_embedding_batch(found: Findings, states: pa.Array, vectors: pa.Array, offset: int,
                           dim: int | None) -> int | None:
    if states.null_count:
        found.rows("null", "state_pp", "null state", mask_rows(states.is_null()) + offset)
    bad = text_value_rows(pa.chunked_array([states]), invalid_utf8)
    found.rows("not_utf8", "state_pp", "not valid UTF-8 text", bad + offset,
               shown(text_at(pa.chunked_array([states]), int(bad[0]))) if bad.size else None)
    if vectors.null_count:
        found.rows("null", "embedding", "null vector", mask_rows(vectors.is_null()) + offset)
    if pa.types.is_fixed_size_list(vectors.type):
        lengths = np.full(len(vectors), vectors.type.list_size, dtype=np.int64)
    else:
        lengths = pc.list_value_length(vectors).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    valid = bools(vectors.is_valid())
    if dim is None and valid.any():
        dim = int(lengths[np.argmax(valid)])
        if dim == 0:
            found.rows("empty_vector", "embedding", "empty vector (dimension 0)", offset + int(np.argmax(valid)))
    if dim is not None:
        ragged = np.flatnonzero(valid & (lengths != dim))
        if ragged.size:
            found.rows("ragged", "embedding", f"ragged vectors: expected dimension {dim} (the first vector's)",
                       ragged + offset, f"dimension {int(lengths[ragged[0]])}")
    finite = bools(pc.is_finite(pc.list_flatten(vectors)))  # a null element is not finite
    if not finite.all():
        parents = pc.list_parent_indices(vectors).to_numpy(zero_copy_only=False)
        found.rows("not_finite", "embedding", "vector holds NaN, infinite or null elements",
                   np.unique(parents[~finite]) + offset)
    return dim
