-- The theorem's preference pairs, with the state each sits at (a stripped state of one
-- of the theorem's records: the pair's state_hash is that state's).
WITH states AS (
    SELECT DISTINCT state_hash(py_strip(state_pp)) AS state_hash, py_strip(state_pp) AS state
    FROM explore_records
    WHERE theorem_name = $theorem
)
SELECT p.split, p.source, s.state, p.chosen, p.rejected, p.chosen_distance, p.rejected_expanded
FROM explore_preferences AS p
LEFT JOIN states AS s USING (state_hash)
WHERE p.theorem_name = $theorem
ORDER BY p.split, s.state, p.chosen, p.rejected;
