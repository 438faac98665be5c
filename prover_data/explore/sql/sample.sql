-- One contrastive sample as rows: the positive (position 0) and its K negatives in
-- slot order, each with its tier (NULL for the positive).
WITH s AS (
    SELECT * FROM explore_samples WHERE split = $split AND sample_id = $sample_id
)
SELECT 0 AS position, 'positive' AS role, NULL AS tier, pos_state_hash AS state_hash,
       theorem_name, round, source, pos_remaining_depth
FROM s
UNION ALL
SELECT i AS position, 'negative' AS role, s.neg_tiers[i] AS tier, s.neg_state_hashes[i] AS state_hash,
       theorem_name, round, source, pos_remaining_depth
FROM s, range(1, len(s.neg_state_hashes) + 1) AS r(i)
ORDER BY position;
