-- sft_pairs: everything the LoRA trainer learns from: usable trajectory pairs, then
-- base pairs, each with its theorem's split. Output order is by content (source in
-- manifest order, base last; theorem; depth; state; tactic), so builds are
-- byte-identical whatever the input row order.
CREATE OR REPLACE VIEW sft_pairs WITH (DEFER_BINDING) AS
SELECT theorem_name, source, state_pp, tactic, state_hash, depth, split, file_order AS source_order
FROM trajectory_pairs
UNION ALL
SELECT theorem_name, source, state_pp, tactic, state_hash, depth, split, 1000000 AS source_order
FROM base_pairs;
