"""The states a build's contrastive samples reference: the only states that need a vector.

The EBM reads a vector for each sample's positive and its K negatives, nothing else.
A build's ``states.parquet`` holds more (every positive or negative record's state,
the empty state of a completed proof among them), so coverage that counts all of
them would demand vectors nobody reads, and the report's 10-18% zero vectors, dropped
at import, would block training that never touches them. The empty state is never
required: no sample starts from it by default (``positive_states = "non_empty"``), and
a negative is never empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prover_data.build.files import Build
from prover_data.embeddings.store.keys import HashIndex, first_occurrences, key_matrix
from prover_data.identity import state_hash

EMPTY_STATE = np.frombuffer(state_hash(""), np.uint8)
SAMPLE_OUTPUTS = ("contrastive_train", "contrastive_val")


@dataclass(frozen=True)
class Referenced:
    """Distinct referenced states (``uint8 [n, 16]``, empty state left out) and, per
    sample, which of them it holds: ``sample_of[i]`` is the sample of reference ``i``."""

    keys: np.ndarray
    refs: np.ndarray  # every reference (positive, then its negatives, per sample), empty state included
    sample_of: np.ndarray
    samples: int

    def samples_touching(self, absent_keys: np.ndarray) -> int:
        """Samples holding at least one of ``absent_keys``."""
        if not len(absent_keys):
            return 0
        hit = HashIndex(absent_keys).contains(self.refs)
        return int(np.unique(self.sample_of[hit]).size)


def referenced_states(build: Build) -> Referenced:
    """What ``build``'s contrastive_train/val reference (missing files reference nothing)."""
    parts, owners, offset = [], [], 0
    for name in SAMPLE_OUTPUTS:
        path = build.output(name)
        if not path.is_file():
            continue
        table = pq.read_table(path, columns=["pos_state_hash", "neg_state_hashes"])
        refs, owner = sample_references(table)
        parts.append(refs)
        owners.append(owner + offset)
        offset += table.num_rows
    refs = np.concatenate(parts) if parts else np.zeros((0, 16), np.uint8)
    sample_of = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    keys = refs[first_occurrences(refs)] if len(refs) else refs
    keys = keys[~np.all(keys == EMPTY_STATE, axis=1)]
    return Referenced(keys, refs, sample_of, offset)


def sample_references(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's positive then negatives as one key matrix, and the sample of each row."""
    neg = table.column("neg_state_hashes").combine_chunks()
    pos = key_matrix(table.column("pos_state_hash"))
    negs = key_matrix(neg.flatten())
    counts = pc.list_value_length(neg).to_numpy(zero_copy_only=False).astype(np.int64)
    owner = np.concatenate([np.arange(len(pos)), np.repeat(np.arange(len(pos)), counts)])
    return np.concatenate([pos, negs]), owner
