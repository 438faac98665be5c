-- Every node of one theorem's searches, labelled by the manifest's [labels] (file_label
-- and relabelled say where the tree's label is not the file's), with on_proof_path: the
-- node completes a proof (and its state's value targets in the theorem's split, from
-- the build's values output)
-- (is_proof_complete) or is an ancestor of one in the same (source, search) -- the
-- theorem is fixed here. The walk follows parent links up; a parent cycle stops at
-- 10,000 hops. Ordered so each search's nodes come together, root first.
WITH RECURSIVE nodes AS (
    SELECT source, file_order, search, state_id, parent_state_id, label, depth_from_root, remaining_depth,
           llm_log_prob, ebm_score, is_proof_complete, q_value, visits, tactic_applied, state_pp, file_row,
           file_label, relabelled, distance, state_hash
    FROM explore_records
    WHERE theorem_name = $theorem
), walk AS (
    SELECT source, search, state_id, parent_state_id, 0 AS hops
    FROM nodes
    WHERE is_proof_complete
    UNION ALL
    SELECT n.source, n.search, n.state_id, n.parent_state_id, w.hops + 1
    FROM walk AS w
    JOIN nodes AS n ON n.source = w.source AND n.search = w.search AND n.state_id = w.parent_state_id
    WHERE w.hops < 10000
), on_path AS (
    SELECT DISTINCT source, search, state_id FROM walk
)
SELECT n.*, p.state_id IS NOT NULL AS on_proof_path,
       v.provable AS value_provable, v.distance AS value_distance, v.nodes AS value_nodes,
       v.visits AS value_visits, v.q_value AS value_q
FROM nodes AS n
LEFT JOIN on_path AS p USING (source, search, state_id)
LEFT JOIN explore_values AS v
  ON v.state_hash = n.state_hash
 AND v.split = CASE WHEN theorem_bucket($theorem) < getvariable('val_fraction') THEN 'val' ELSE 'train' END
ORDER BY n.file_order, n.search, n.depth_from_root, n.state_id;
