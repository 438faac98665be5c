-- The theorem's positive records as SFT pairs under both pairings (explore_sft), each
-- with its node and its status: usable, dup (an earlier record teaches the same pair),
-- empty or sorry.
SELECT pairing, source, search, state_id, depth, state, tactic, status
FROM explore_sft
WHERE theorem_name = $theorem
ORDER BY pairing, file_order, search, depth, state_id;
