-- trajectory_files: the manifest's files in order, each named by its stem (`source`),
-- and whether it has BurnQED's 14-column schema (`search_values`: q_value and visits,
-- added by BurnQED's writer in b0d69b5; older 12-column files lack both).
-- trajectory_records: every input record, one row per search-tree node, in manifest
-- order, with the file's own labels. Adds the record's provenance (source = file stem,
-- file_order, file_row, search) and its state identity (state_hash = MD5 of the exact
-- UTF-8 state, as identity.state_hash). Only the spec'd columns are kept, so extra
-- input columns never change the outputs; a 12-column file reads q_value and visits
-- as 0, as BurnQED's reader does (the empty relation unioned by name gives the two
-- columns a type even when no file has them).
--
-- search: which search of its theorem in its file the record belongs to (0-based), as
-- search_numbers (macros.sql) numbers them: each root row starts a search. A node is
-- (file, search, theorem_name, state_id) everywhere a node is looked up: parent
-- pairing, siblings, proof paths, tree labels. [sources] repeated_searches only decides
-- what validation refuses: under 'refuse' a state_id that a second search of the
-- theorem repeats (the one ambiguous case), under 'split_at_roots' nothing more.
CREATE OR REPLACE VIEW trajectory_files AS
WITH files AS (
    SELECT (i - 1)::INTEGER AS file_order, getvariable('trajectory_sources')[i] AS source,
           getvariable('trajectory_paths')[i] AS path
    FROM range(1, len(getvariable('trajectory_paths')) + 1) AS r(i)
), columns AS (
    SELECT file_name AS path, count(*) FILTER (WHERE name IN ('q_value', 'visits')) = 2 AS search_values
    FROM parquet_schema(getvariable('trajectory_paths'))
    GROUP BY ALL
)
SELECT f.file_order, f.source, f.path, coalesce(c.search_values, false) AS search_values
FROM files AS f LEFT JOIN columns AS c USING (path);

CREATE OR REPLACE VIEW trajectory_records AS
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
        CASE WHEN f.search_values THEN t.q_value::DOUBLE ELSE 0.0 END AS q_value,
        CASE WHEN f.search_values THEN t.visits::UINTEGER ELSE 0 END AS visits,
        f.source,
        f.file_order,
        t.file_row_number AS file_row,
        state_hash(t.state_pp) AS state_hash
    FROM (SELECT * FROM read_parquet(getvariable('trajectory_paths'),
                                     filename = true, file_row_number = true, union_by_name = true)
          UNION ALL BY NAME
          SELECT NULL::DOUBLE AS q_value, NULL::UINTEGER AS visits WHERE false) AS t
    JOIN trajectory_files AS f ON f.path = t.filename
)
SELECT * EXCLUDE (is_root) FROM search_numbers(records);
