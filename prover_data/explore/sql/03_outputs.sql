-- The build's outputs the pages read, from its parquet files (paths in variables):
-- explore_samples, every contrastive sample with its split, and explore_sft_counts,
-- the trajectory SFT pairs (base pairs left out) each theorem put in the datasets.
CREATE OR REPLACE TABLE explore_samples AS
SELECT 'train' AS split, sample_id, round, theorem_name, source, pos_state_hash, pos_remaining_depth,
       neg_state_hashes, neg_tiers
FROM read_parquet(getvariable('explore_contrastive_train'))
UNION ALL
SELECT 'val' AS split, sample_id, round, theorem_name, source, pos_state_hash, pos_remaining_depth,
       neg_state_hashes, neg_tiers
FROM read_parquet(getvariable('explore_contrastive_val'));

CREATE OR REPLACE TABLE explore_sft_counts AS
SELECT theorem_name, count(*) AS sft_pairs
FROM read_parquet(getvariable('explore_sft_outputs'))
WHERE source <> 'base'
GROUP BY theorem_name;
