-- sft_candidates: every `positive` record (the manifest's [labels]) with the (state,
-- tactic) pair it teaches, under both pairings, stripped as BurnQED's loader strips
-- them; and, so the report can say what the tree labels add, every record positive
-- under the other label source too (`positive` says which are the manifest's):
--   positive       positive under the manifest's labels: what sft_classify reads
--   file_positive  the file labels it positive
--   tree_positive  its tree label is positive (provable, or file_positive)
--
-- In a search tree `tactic_applied` is the tactic that REACHED the row's state, so
-- the pair a policy should learn is (parent's state, tactic): `parent_state`, the
-- parent being the node with state_id = parent_state_id of the same file, search and
-- theorem (state ids number the nodes of one search), as trajectory_links found it.
-- Roots have no parent and teach nothing: their parent_state is '' and they count as
-- empty (their tactic is empty anyway), as does a record whose parent is missing from
-- the file (validation rejects such files).
-- Files listed in own_state_sources (BurnQED's generate-negatives output) record the
-- tactic applied AT the row's state instead; for them the row's own state is the pair.
-- `own_state` is BurnQED's pairing for every file (train_llm.py), which misaligns
-- state and tactic for search files (a completed node's own state is even empty).
-- `state_row` is the file row of the node whose state is parent_state (the parent, or
-- the record itself in own_state_sources; null at a root), the node where the
-- preference pairs set this tactic against the others tried there; `remaining_depth`
-- the record's, under the manifest's labels.
CREATE OR REPLACE VIEW sft_candidates WITH (DEFER_BINDING) AS
SELECT
    c.source,
    c.file_order,
    c.file_row,
    c.search,
    c.theorem_name,
    c.state_id,
    c.depth_from_root,
    CASE WHEN list_contains(getvariable('own_state_sources'), c.source)
         THEN py_strip(c.state_pp)
         ELSE coalesce(py_strip(p.state_pp), '') END AS parent_state,
    CASE WHEN list_contains(getvariable('own_state_sources'), c.source)
         THEN c.depth_from_root::INTEGER
         ELSE c.depth_from_root::INTEGER - 1 END AS parent_depth,
    py_strip(c.state_pp) AS own_state,
    py_strip(c.tactic_applied) AS tactic,
    c.label = 'positive' AS positive,
    c.file_label = 'positive' AS file_positive,
    c.provable OR c.file_label = 'positive' AS tree_positive,
    CASE WHEN list_contains(getvariable('own_state_sources'), c.source)
         THEN c.file_row ELSE l.parent_row END AS state_row,
    c.remaining_depth
FROM trajectories AS c
JOIN trajectory_links AS l USING (file_order, file_row)  -- the parent found once, as two integers
LEFT JOIN trajectory_records AS p ON p.file_order = c.file_order AND p.file_row = l.parent_row
WHERE c.label = 'positive' OR c.provable;
