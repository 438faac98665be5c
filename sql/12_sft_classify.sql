-- sft_classify(pairing): each positive record classified as BurnQED's train_llm.py
-- does, in its order: empty (state or tactic empty after strip) -> sorry (tactic
-- contains 'sorry') -> dup ((state, tactic) already taken by an earlier record) ->
-- usable. pairing 'parent' takes `parent_state` (sft_candidates), 'burnqed_compat' the
-- record's own state, exactly BurnQED's pair. Pairs are compared by the state's hash
-- (identity.state_hash of the stripped state), which the SFT outputs carry anyway.
--
-- "Earlier" is manifest file order first, as BurnQED walks the files. Inside one file
-- the record kept is chosen by content -- the least (theorem_name, depth, state_id,
-- search) -- not by row position, so shuffling a file's rows changes no output (under
-- repeated_searches = 'split_at_roots' row order defines the searches). No count can
-- change by this: of several equal pairs in one file exactly one is kept whichever
-- comes first, and an earlier file wins either way; only which theorem (and so which
-- split) the kept pair is credited to is fixed by content instead of row order.
--
-- The filters can be switched off in the manifest ([filters] drop_empty, drop_sorry,
-- dedup); a switched-off filter lets its rows through to the next rule.
-- A table macro, so the report can classify under both pairings and compare them.
CREATE OR REPLACE MACRO sft_classify(pairing) AS TABLE
WITH paired AS (
    SELECT source, file_order, file_row, search, theorem_name, state_id, depth_from_root, tactic,
           CASE WHEN pairing = 'burnqed_compat' THEN own_state ELSE parent_state END AS state,
           state_hash(state) AS state_hash,
           CASE WHEN pairing = 'burnqed_compat' THEN depth_from_root::INTEGER ELSE parent_depth END AS depth
    FROM sft_candidates
    WHERE positive
), flagged AS (
    SELECT *,
           getvariable('drop_empty') AND (state = '' OR tactic = '') AS is_empty,
           getvariable('drop_sorry') AND contains(tactic, 'sorry') AS is_sorry
    FROM paired
), firsts AS (
    -- the record that keeps each pair: the least (file_order, theorem_name, depth,
    -- state_id, search) of the records that pass the other filters
    SELECT state_hash, tactic,
           arg_min(file_order, (file_order, theorem_name, depth, state_id, search)) AS first_file,
           arg_min(file_row, (file_order, theorem_name, depth, state_id, search)) AS first_row
    FROM flagged
    WHERE NOT is_empty AND NOT is_sorry
    GROUP BY ALL
)
SELECT f.*,
       CASE WHEN f.is_empty THEN 'empty'
            WHEN f.is_sorry THEN 'sorry'
            WHEN getvariable('dedup') AND (f.file_order, f.file_row) <> (k.first_file, k.first_row) THEN 'dup'
            ELSE 'usable' END AS status
FROM flagged AS f
LEFT JOIN firsts AS k ON k.state_hash = f.state_hash AND k.tactic = f.tactic;

-- sft_status: the positives classified under the manifest's pairing.
CREATE OR REPLACE VIEW sft_status WITH (DEFER_BINDING) AS
SELECT * FROM sft_classify(getvariable('pairing'));
