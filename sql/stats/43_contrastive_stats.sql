-- contrastive_stats: the report's "Contrastive Sampler Stats" table, one row per split.
--   records                  positive + negative records: what BurnQED's sampler loads
--                            (its "from N total records, A train / B val")
--   unknown_records          `unknown` records, which the sampler ignores
--   eligible_theorems        theorems with at least one positive record: what BurnQED
--                            prints as "eligible" and the report labels "Eligible
--                            positives (proof-path)" (6,539 + 738 = 7,277 proved theorems)
--   sampled_theorems         theorems with a positive the sampler may start from (after
--                            positive_states): the anchors of contrastive_samples
--   eligible_positive_records those positives, counted as records
--   sibling / non_sibling / total_negatives  by the manifest's sibling_scope
--   siblings_file_rule / siblings_theorem_rule  sibling negatives under each rule, so
--                            the report can say what BurnQED's cross-file rule adds
CREATE OR REPLACE VIEW contrastive_stats WITH (DEFER_BINDING) AS
WITH splits AS (SELECT * FROM (VALUES ('train'), ('val')) AS v(split)),
records AS (
    SELECT s.split,
           count(*) FILTER (WHERE t.label IN ('positive', 'negative')) AS records,
           count(*) FILTER (WHERE t.label NOT IN ('positive', 'negative')) AS unknown_records,
           count(DISTINCT t.theorem_name) FILTER (WHERE t.label = 'positive') AS eligible_theorems
    FROM trajectories AS t JOIN theorem_split AS s USING (theorem_name) GROUP BY ALL
), positives AS (
    SELECT split, count(DISTINCT theorem_name) AS sampled_theorems, count(*) AS eligible_positive_records
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
       coalesce(unknown_records, 0) AS unknown_records,
       coalesce(eligible_theorems, 0) AS eligible_theorems,
       coalesce(sampled_theorems, 0) AS sampled_theorems,
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
