-- value_targets: what a value model (a critic, a distance regressor) learns of each
-- state, one row per (split, state) over the records labelled positive or negative (the
-- manifest's [labels]), the empty state of a completed node left out; a record's split
-- is its theorem's (theorem_split).
--   provable   some record of the state is positive, anywhere (any file, split, search):
--              the state's n_positive in `states`, which counts the same records
--   distance   the least distance to a proof over the state's provable records, anywhere
--              (tree labels: the tree's distance; file labels: the files' remaining_depth
--              of their positive records); null when none
--   nodes      the split's records of the state
--   visits     their PUCT visits, summed
--   q_value    their q_value, weighted by visits; null when none has a visit (a
--              12-column file, a search without PUCT statistics)
--
-- value_target_figures holds the numbers, value_targets adds each state's text from
-- `states` (one text per state_hash, the MD5 of that text). The build materializes the
-- figures only: a table without the texts is a fifth of the size, and the statistics
-- and the eval-set audit never read them; the two output files join them in as written.
CREATE OR REPLACE VIEW value_target_figures WITH (DEFER_BINDING) AS
WITH records AS (
    SELECT t.state_hash, t.visits, t.q_value, s.split,
           CASE WHEN getvariable('label_source') = 'tree' THEN t.distance
                WHEN t.label = 'positive' AND t.remaining_depth >= 0 THEN t.remaining_depth END AS distance
    FROM trajectories AS t
    JOIN theorem_split AS s USING (theorem_name)
    WHERE t.label IN ('positive', 'negative') AND t.state_pp <> ''
), distances AS (
    SELECT state_hash, min(distance)::INTEGER AS distance FROM records WHERE distance IS NOT NULL GROUP BY ALL
), per_split AS (
    SELECT split, state_hash, count(*) AS nodes, sum(visits)::BIGINT AS visits,
           -- summed in one fixed order: a float sum in thread order changes the last digit between builds
           list_sum(list(q_value * visits ORDER BY q_value, visits) FILTER (WHERE visits > 0))
               / sum(visits) FILTER (WHERE visits > 0) AS q_value
    FROM records GROUP BY ALL
)
SELECT p.split, p.state_hash, s.n_positive > 0 AS provable, d.distance, p.nodes, p.visits, p.q_value
FROM per_split AS p
JOIN states AS s USING (state_hash)
LEFT JOIN distances AS d USING (state_hash);

CREATE OR REPLACE VIEW value_targets WITH (DEFER_BINDING) AS
SELECT v.split, s.state_pp, v.state_hash, v.provable, v.distance, v.nodes, v.visits, v.q_value
FROM value_target_figures AS v
JOIN states AS s USING (state_hash);
