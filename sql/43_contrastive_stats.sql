-- contrastive_stats: the report's "Contrastive Sampler Stats" table, one row per split.
-- eligible_theorems is what BurnQED prints as "eligible" and the report labels
-- "Eligible positives (proof-path)": theorems with at least one positive.
CREATE OR REPLACE VIEW contrastive_stats AS
WITH splits AS (SELECT * FROM (VALUES ('train'), ('val')) AS v(split)),
records AS (
    SELECT s.split, count(*) AS records
    FROM trajectories AS t JOIN theorem_split AS s USING (theorem_name) GROUP BY ALL
), positives AS (
    SELECT split, count(DISTINCT theorem_name) AS eligible_theorems, count(*) AS eligible_positive_records
    FROM contrastive_positives GROUP BY ALL
), negatives AS (
    SELECT split,
           count(*) FILTER (WHERE tier = 'hard') AS sibling_negatives,
           count(*) FILTER (WHERE tier = 'medium') AS non_sibling_negatives,
           count(*) AS total_negatives,
           count(*) FILTER (WHERE sibling_in_file) AS siblings_file_rule,
           count(*) FILTER (WHERE sibling_in_theorem) AS siblings_theorem_rule
    FROM contrastive_negatives GROUP BY ALL
)
SELECT splits.split,
       coalesce(records, 0) AS records,
       coalesce(eligible_theorems, 0) AS eligible_theorems,
       coalesce(eligible_positive_records, 0) AS eligible_positive_records,
       coalesce(sibling_negatives, 0) AS sibling_negatives,
       coalesce(non_sibling_negatives, 0) AS non_sibling_negatives,
       coalesce(total_negatives, 0) AS total_negatives,
       coalesce(siblings_file_rule, 0) AS siblings_file_rule,
       coalesce(siblings_theorem_rule, 0) AS siblings_theorem_rule
FROM splits
LEFT JOIN records USING (split)
LEFT JOIN positives USING (split)
LEFT JOIN negatives USING (split)
ORDER BY splits.split;
