-- The input tables Python fills before the views read them (prover_data/views.py),
-- created empty so every view binds on a connection that needs none of them.
-- base_pairs_input is a table of the (in-memory) database, not of one connection, so a
-- build can fill it from a cursor on another thread (prover_data/build/inputs.py).
--   base_pairs_input        LeanDojo traced tactics (inputs/leandojo.sql loads them)
--   embedding_neighbors_*   the contrastive sampler's embedding tier (negative_tier.py)
CREATE OR REPLACE TABLE base_pairs_input (
    theorem_name VARCHAR, tactic_index INTEGER, state_pp VARCHAR, tactic VARCHAR);
CREATE OR REPLACE TEMP TABLE embedding_neighbors_input (
    split VARCHAR, pos_state_hash BLOB, idx INTEGER, state_hash BLOB, cosine FLOAT);
CREATE OR REPLACE TEMP TABLE embedding_neighbors_keep_input (
    split VARCHAR, pos_state_hash BLOB, idx INTEGER, state_hash BLOB, cosine FLOAT);
