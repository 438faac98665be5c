-- trajectories: every input record, one row per search-tree node, in manifest order.
-- Adds the record's provenance (source = file stem, file_order, file_row) and its
-- state identity (state_hash = MD5 of the exact UTF-8 state, as identity.state_hash).
-- Only the spec'd columns are kept, so extra input columns never change the outputs.
CREATE OR REPLACE VIEW trajectories AS
SELECT
    t.theorem_name,
    t.state_id::UBIGINT AS state_id,
    t.state_pp,
    t.tactic_applied,
    t.parent_state_id::UBIGINT AS parent_state_id,
    t.label,
    t.depth_from_root::UINTEGER AS depth_from_root,
    t.remaining_depth::INTEGER AS remaining_depth,
    t.llm_log_prob,
    t.ebm_score,
    t.is_proof_complete,
    t.timestamp_ms,
    t.q_value,
    t.visits,
    f.source,
    f.file_order,
    t.file_row_number AS file_row,
    unhex(md5(t.state_pp)) AS state_hash
FROM read_parquet(
        getvariable('trajectory_paths'),
        filename = true, file_row_number = true, union_by_name = true
     ) AS t
JOIN trajectory_files AS f ON f.path = t.filename;
