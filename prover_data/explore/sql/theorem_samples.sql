-- The theorem's contrastive samples, each with its negatives' tiers.
SELECT split, sample_id, round, source, pos_remaining_depth, neg_tiers
FROM explore_samples
WHERE theorem_name = $theorem
ORDER BY split, round, sample_id;
