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

# Added by BurnQED's writer with its 14-column schema (commit b0d69b5, 2026-02-27). A file
# of the older 12-column schema has neither and is read as if both were 0, as BurnQED's
# reader does; a file with one of them but not the other is refused.
SEARCH_VALUE_COLUMNS = ("q_value", "visits")
TRAJECTORY_12 = pa.schema([f for f in TRAJECTORY if f.name not in SEARCH_VALUE_COLUMNS])

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

# preferences_train / preferences_val: one (state, chosen tactic, rejected tactic) per
# row, in TRL's preference format. ``prompt`` is the SFT prompt of the parent state and
# ``chosen`` / ``rejected`` are tactics as train-sft writes its targets (no EOS):
# ``prover_models.preferences.prompt_completion`` is the definition.
PREFERENCES = pa.schema(
    [
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("chosen", pa.string(), nullable=False),
        pa.field("rejected", pa.string(), nullable=False),
        pa.field("theorem_name", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("state_hash", STATE_HASH, nullable=False),
        pa.field("chosen_distance", pa.int32(), nullable=False),
        pa.field("rejected_expanded", pa.bool_(), nullable=False),
    ]
)

# values_train / values_val: one row per (split, state) of the positive and negative
# records (sql/75_value_targets.sql): what a critic or a distance regressor learns.
# ``provable`` and ``distance`` look at every record of the state anywhere; ``nodes``,
# ``visits`` and ``q_value`` (visit-weighted) at the split's records.
VALUES = pa.schema(
    [
        pa.field("state_pp", pa.string(), nullable=False),
        pa.field("state_hash", STATE_HASH, nullable=False),
        pa.field("provable", pa.bool_(), nullable=False),
        pa.field("distance", pa.int32(), nullable=True),
        pa.field("nodes", pa.int64(), nullable=False),
        pa.field("visits", pa.int64(), nullable=False),
        pa.field("q_value", pa.float64(), nullable=True),
    ]
)

OUTPUTS = {
    "sft_train": SFT_PAIRS,
    "sft_val": SFT_PAIRS,
    "contrastive_train": CONTRASTIVE,
    "contrastive_val": CONTRASTIVE,
    "contrastive_pools": CONTRASTIVE_POOLS,
    "states": STATES,
    "preferences_train": PREFERENCES,
    "preferences_val": PREFERENCES,
    "values_train": VALUES,
    "values_val": VALUES,
}
