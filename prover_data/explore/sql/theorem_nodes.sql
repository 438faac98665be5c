-- Every node of one theorem's searches, with on_proof_path: the node completes a proof
-- (is_proof_complete) or is an ancestor of one in the same (source, search) -- the
-- theorem is fixed here. The walk follows parent links up; a parent cycle stops at
-- 10,000 hops. Ordered so each search's nodes come together, root first.
WITH RECURSIVE nodes AS (
    SELECT source, file_order, search, state_id, parent_state_id, label, depth_from_root, remaining_depth,
           llm_log_prob, ebm_score, is_proof_complete, q_value, visits, tactic_applied, state_pp, file_row
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
SELECT n.*, p.state_id IS NOT NULL AS on_proof_path
FROM nodes AS n
LEFT JOIN on_path AS p USING (source, search, state_id)
ORDER BY n.file_order, n.search, n.depth_from_root, n.state_id;
