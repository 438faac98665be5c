-- proof_steps: the steps of every proof found in a trajectory file, one row per step.
-- A proof is the path from a completing node (is_proof_complete) up the parent links
-- to the root of its search, within one search of one file (state ids are unique per
-- search only).
-- Step k pairs the state of path node k with the tactic that leads to node k + 1:
-- the tactic applied to that state, as a certificate writes it.
--   proof_end   the completing node's state_id; (source, search, theorem_name, proof_end)
--               is a proof
--   step        0 at the root
--   complete    the walk reached a root (false: a parent is missing from the file, or a
--               cycle; such a proof is counted and left out by the certificate export)
-- Files in own_state_sources (generate-negatives chains, where a record holds the
-- tactic tried AT its state) have no search tree to walk and are left out.
CREATE OR REPLACE VIEW proof_steps WITH (DEFER_BINDING) AS
WITH RECURSIVE nodes AS (
    SELECT source, file_order, search, theorem_name, state_id, parent_state_id, state_pp,
           tactic_applied, is_proof_complete
    FROM trajectories
    WHERE NOT list_contains(getvariable('own_state_sources'), source)
), walk AS (
    SELECT source, file_order, search, theorem_name, state_id AS proof_end, state_id, parent_state_id,
           state_pp, tactic_applied, 0 AS hops
    FROM nodes
    WHERE is_proof_complete
    UNION ALL
    SELECT w.source, w.file_order, w.search, w.theorem_name, w.proof_end, n.state_id, n.parent_state_id,
           n.state_pp, n.tactic_applied, w.hops + 1
    FROM walk AS w
    JOIN nodes AS n
      ON n.source = w.source AND n.search = w.search AND n.theorem_name = w.theorem_name
     AND n.state_id = w.parent_state_id
    WHERE w.hops < 10000  -- a parent cycle ends here, as an incomplete proof
), ordered AS (
    SELECT *,
           bool_or(parent_state_id IS NULL) OVER proof AS complete,
           max(hops) OVER proof AS n_steps,
           -- the tactic of the next node down the path is applied to this node's state
           lead(tactic_applied) OVER (proof ORDER BY hops DESC) AS next_tactic
    FROM walk
    WINDOW proof AS (PARTITION BY source, search, theorem_name, proof_end)
)
SELECT source, file_order, search, theorem_name, proof_end,
       (n_steps - hops)::INTEGER AS step, n_steps::INTEGER AS n_steps,
       state_pp, next_tactic AS tactic, complete
FROM ordered
WHERE hops > 0;
