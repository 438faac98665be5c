"""Arrow schemas of every input and output: the data contracts, in one place.

Inputs are what other programs write (BurnQED's search, LeanDojo's tracer); readers in
``inputs/`` check files against these and name what is wrong. Outputs are what a
build writes and trainers, exports and ad-hoc queries read; the SQL views must
produce exactly these columns and types, and a test holds them to it.
"""

from __future__ import annotations

import pyarrow as pa

STATE_HASH = pa.binary(16)

LABELS = ("positive", "negative", "unknown")

# ----------------------------------------------------------------------------- inputs

# One row per node of a best-first search tree (BurnQED ``trajectory`` crate).
# Extra columns are allowed. ``parent_state_id`` is the only nullable column (null
# exactly at roots).
TRAJECTORY = pa.schema(
    [
        pa.field("theorem_name", pa.string(), nullable=False),
        pa.field("state_id", pa.uint64(), nullable=False),
        pa.field("state_pp", pa.string(), nullable=False),
        pa.field("tactic_applied", pa.string(), nullable=False),
        pa.field("parent_state_id", pa.uint64(), nullable=True),
        pa.field("label", pa.string(), nullable=False),
        pa.field("depth_from_root", pa.uint32(), nullable=False),
        pa.field("remaining_depth", pa.int32(), nullable=False),
        pa.field("llm_log_prob", pa.float64(), nullable=False),
        pa.field("ebm_score", pa.float64(), nullable=False),
        pa.field("is_proof_complete", pa.bool_(), nullable=False),
        pa.field("timestamp_ms", pa.uint64(), nullable=False),
        pa.field("q_value", pa.float64(), nullable=False),
        pa.field("visits", pa.uint32(), nullable=False),
    ]
)

# BurnQED ``embeddings.parquet``: one f64 vector per state string.
BURNQED_EMBEDDINGS = pa.schema(
    [
        pa.field("state_pp", pa.string(), nullable=False),
        pa.field("embedding", pa.list_(pa.float64()), nullable=False),
    ]
)

# ----------------------------------------------------------------------------- outputs

# sft_train / sft_val: one (state, tactic) pair per row. ``state_pp`` is the state the
# tactic is applied to (``burnqed_compat`` pairing: the state it produced), stripped.
# ``source`` is the trajectory file's stem (``iter_1``) or ``base`` for base pairs.
SFT_PAIRS = pa.schema(
    [
        pa.field("theorem_name", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("state_pp", pa.string(), nullable=False),
        pa.field("tactic", pa.string(), nullable=False),
        pa.field("state_hash", STATE_HASH, nullable=False),
        pa.field("depth", pa.int32(), nullable=False),
    ]
)

# contrastive_train / contrastive_val: one sample per row -- a positive state and K
# negative states by hash (embeddings come from the store), with each negative's tier.
CONTRASTIVE = pa.schema(
    [
        pa.field("sample_id", pa.int64(), nullable=False),
        pa.field("round", pa.int32(), nullable=False),
        pa.field("theorem_name", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("pos_state_hash", STATE_HASH, nullable=False),
        pa.field("pos_remaining_depth", pa.int32(), nullable=False),
        pa.field("neg_state_hashes", pa.list_(STATE_HASH), nullable=False),
        pa.field("neg_tiers", pa.list_(pa.string()), nullable=False),
    ]
)

NEGATIVE_TIERS = ("hard", "medium", "easy")

# states: every unique state of a positive or negative record, for the embedding store.
STATES = pa.schema(
    [
        pa.field("state_hash", STATE_HASH, nullable=False),
        pa.field("state_pp", pa.string(), nullable=False),
        pa.field("n_records", pa.int64(), nullable=False),
        pa.field("n_positive", pa.int64(), nullable=False),
        pa.field("n_negative", pa.int64(), nullable=False),
    ]
)

# contrastive_pools: what each tier drew from (sql/48_contrastive_pools.sql), one
# distinct state per row: hard/medium rows name their theorem, embedding rows their
# positive. The EBM loader refills a negative without a vector from its tier's pool.
CONTRASTIVE_POOLS = pa.schema(
    [
        pa.field("split", pa.string(), nullable=False),
        pa.field("tier", pa.string(), nullable=False),
        pa.field("theorem_name", pa.string(), nullable=True),
        pa.field("pos_state_hash", STATE_HASH, nullable=True),
        pa.field("state_hash", STATE_HASH, nullable=False),
    ]
)

OUTPUTS = {
    "sft_train": SFT_PAIRS,
    "sft_val": SFT_PAIRS,
    "contrastive_train": CONTRASTIVE,
    "contrastive_val": CONTRASTIVE,
    "contrastive_pools": CONTRASTIVE_POOLS,
    "states": STATES,
}
