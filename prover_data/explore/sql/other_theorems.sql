-- The theorems of the build compared against (--against), read from its own views:
-- whether any of its searches proved each one.
SELECT theorem_name, bool_or(is_proof_complete) AS proved
FROM trajectories
GROUP BY theorem_name;
