"""Spaces: the vectors of one (encoder, dtype) within a store version.

A state has at most one vector per space, and a training read picks exactly one
space, so vectors of two encoders or two precisions are never mixed by accident.
"""

from __future__ import annotations

import numpy as np

from prover_data.embeddings.store.dtypes import storage_dtype, to_float32
from prover_data.embeddings.store.files import Segment
from prover_data.embeddings.store.keys import HashIndex, key_matrix, missing_problem
from prover_data.identity import STATE_HASH_BYTES


class Space:
    """One (encoder, dtype) slice of a version: a key -> vector map over its segments.

    ``rows``/``gather`` give the same interface as ``dense.DenseEmbeddings``, over the
    concatenation of the segments (row numbers are positions in that concatenation).
    """

    def __init__(self, segments: list[Segment]):
        self.segments = segments
        first = segments[0]
        self.encoder, self.dtype, self.dim = first.encoder, first.dtype, first.dim
        self._offsets = np.cumsum([0] + [s.rows for s in segments])
        self._keys: np.ndarray | None = None
        self._index: HashIndex | None = None

    @property
    def encoder_id(self) -> str:
        return self.encoder.id

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def hashes(self) -> np.ndarray:
        """Key of each row (the dense interface's name for ``keys()``)."""
        return self.keys()

    def keys(self) -> np.ndarray:
        if self._keys is None:
            self._keys = (np.concatenate([s.keys() for s in self.segments])
                          if self.segments else np.zeros((0, STATE_HASH_BYTES), np.uint8))
        return self._keys

    @property
    def index(self) -> HashIndex:
        if self._index is None:
            self._index = HashIndex(self.keys())
        return self._index

    def lookup(self, hashes) -> np.ndarray:
        """Row of each hash, -1 where absent."""
        return self.index.lookup(hashes)

    def rows(self, hashes) -> np.ndarray:
        """Row of each hash; ``InputError`` naming how many and which are absent."""
        keys = key_matrix(hashes)
        rows = self.lookup(keys)
        if (rows < 0).any():
            raise missing_problem(f"store space {self.describe()}", keys, rows < 0,
                                  "encode them with prover-data embed NAME")
        return rows

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """Stored values of ``rows`` (stored dtype), one vectorized read per segment."""
        rows = np.asarray(rows, np.int64)
        out = np.empty((len(rows), self.dim), storage_dtype(self.dtype))
        seg = np.searchsorted(self._offsets, rows, side="right") - 1
        for s in np.unique(seg):
            sel = seg == s
            out[sel] = self.segments[s].vectors()[rows[sel] - self._offsets[s]]
        return out

    def gather(self, rows: np.ndarray) -> np.ndarray:
        return to_float32(self.raw(rows), self.dtype)

    def describe(self) -> str:
        return f"{self.encoder_id} {self.dtype}"

    def summary(self) -> dict:
        return {"encoder_id": self.encoder_id, "encoder": self.encoder.as_dict(), "dtype": self.dtype,
                "dim": self.dim, "rows": len(self), "segments": len(self.segments)}
