-- trajectory_files: the manifest's files in order, each named by its stem (`source`).
-- trajectories: every input record, one row per search-tree node, in manifest order.
-- Adds the record's provenance (source = file stem, file_order, file_row, search) and
-- its state identity (state_hash = MD5 of the exact UTF-8 state, as identity.state_hash).
-- Only the spec'd columns are kept, so extra input columns never change the outputs.
--
-- search: which search of its theorem in its file the record belongs to (0-based). A
-- node is (file, search, theorem_name, state_id) everywhere a node is looked up:
-- parent pairing, siblings, proof paths. Under repeated_searches = 'refuse' validation
-- guarantees one root per theorem and file, so every record is in search 0. Under
-- 'split_at_roots' each root row (null parent, depth 0) of a theorem starts a new
-- search of it in that file, and a record belongs to the last root of its theorem at
-- or above it in the file, as a writer appends one search's rows after its root; a
-- theorem with a single root keeps one search whatever the row order. (A record above
-- the first of several roots gets -1; validation refuses such a file.) Only the
-- branch of the manifest's setting runs: DuckDB drops the other when planning.
CREATE OR REPLACE VIEW trajectory_files AS
SELECT (i - 1)::INTEGER AS file_order, getvariable('trajectory_sources')[i] AS source,
       getvariable('trajectory_paths')[i] AS path
FROM range(1, len(getvariable('trajectory_paths')) + 1) AS r(i);

CREATE OR REPLACE VIEW trajectories AS
WITH records AS (
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
    JOIN trajectory_files AS f ON f.path = t.filename
)
SELECT *, 0 AS search
FROM records
WHERE getvariable('repeated_searches') = 'refuse'
UNION ALL
SELECT * EXCLUDE (is_root),
       CASE WHEN count(*) FILTER (WHERE is_root) OVER (PARTITION BY file_order, theorem_name) <= 1 THEN 0
            ELSE count(*) FILTER (WHERE is_root) OVER (
                     PARTITION BY file_order, theorem_name ORDER BY file_row
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - 1
       END::INTEGER AS search
FROM (SELECT *, parent_state_id IS NULL AND depth_from_root = 0 AS is_root FROM records)
WHERE getvariable('repeated_searches') = 'split_at_roots';
