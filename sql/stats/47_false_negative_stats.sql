-- false_negative_stats: the report's false-negative lines, one row per split.
--   false_negative_records   negative records whose state is a positive record somewhere
--                            (41_contrastive_negatives.sql): excluded from every tier
--                            under false_negatives = 'exclude', drawable under 'keep'
--   false_negative_states    the distinct states of those records
--   own_positive_samples_keep samples that would hold their own positive's state as a
--                            negative under 'keep' (InfoNCE asked to rank a state
--                            below itself); under 'exclude' there are none, and this
--                            counts what 'keep' would have drawn
--   drawn_false_negatives    negatives of the manifest's table that are false
--                            negatives (0 under 'exclude')
--   samples_with_false_negative  samples of that table holding at least one
CREATE OR REPLACE VIEW false_negative_stats WITH (DEFER_BINDING) AS
WITH splits AS (SELECT * FROM (VALUES ('train'), ('val')) AS v(split)),
records AS (
    SELECT split, count(*) AS false_negative_records, count(DISTINCT state_hash) AS false_negative_states
    FROM contrastive_negative_records WHERE false_negative GROUP BY ALL
), own AS (
    SELECT split, count(*) AS own_positive_samples_keep
    FROM contrastive_draws('keep', true)
    WHERE list_contains(neg_state_hashes, pos_state_hash)
    GROUP BY ALL
), positive_states AS (
    SELECT DISTINCT state_hash FROM contrastive_negative_records WHERE false_negative
), drawn AS (
    SELECT s.split, s.sample_id, count(*) AS n
    FROM (SELECT split, sample_id, unnest(neg_state_hashes) AS state_hash FROM contrastive_samples) AS s
    SEMI JOIN positive_states AS p USING (state_hash)
    GROUP BY ALL
), drawn_by_split AS (
    SELECT split, sum(n)::BIGINT AS drawn_false_negatives, count(*) AS samples_with_false_negative
    FROM drawn GROUP BY ALL
)
SELECT splits.split,
       coalesce(false_negative_records, 0) AS false_negative_records,
       coalesce(false_negative_states, 0) AS false_negative_states,
       coalesce(own_positive_samples_keep, 0) AS own_positive_samples_keep,
       coalesce(drawn_false_negatives, 0) AS drawn_false_negatives,
       coalesce(samples_with_false_negative, 0) AS samples_with_false_negative
FROM splits
LEFT JOIN records USING (split)
LEFT JOIN own USING (split)
LEFT JOIN drawn_by_split USING (split)
ORDER BY splits.split;
