-- value_targets: what a value model (a critic, a distance regressor) learns of each
-- state, one row per (split, state) over the records labelled positive or negative (the
-- manifest's [labels]), the empty state of a completed node left out; a record's split
-- is its theorem's (theorem_split).
--   provable   some record of the state is positive, anywhere (any file, split, search)
--   distance   the least distance to a proof over the state's provable records, anywhere
--              (tree labels: the tree's distance; file labels: the files' remaining_depth
--              of their positive records); null when none
--   nodes      the split's records of the state
--   visits     their PUCT visits, summed
--   q_value    their q_value, weighted by visits; null when none has a visit (a
--              12-column file, a search without PUCT statistics)
CREATE OR REPLACE VIEW value_targets WITH (DEFER_BINDING) AS
WITH records AS (
    SELECT t.state_hash, t.state_pp, t.label, t.visits, t.q_value, s.split,
           CASE WHEN getvariable('label_source') = 'tree' THEN t.distance
                WHEN t.label = 'positive' AND t.remaining_depth >= 0 THEN t.remaining_depth END AS distance
    FROM trajectories AS t
    JOIN theorem_split AS s USING (theorem_name)
    WHERE t.label IN ('positive', 'negative') AND t.state_pp <> ''
), anywhere AS (
    SELECT state_hash, bool_or(label = 'positive') AS provable, min(distance)::INTEGER AS distance
    FROM records GROUP BY ALL
), per_split AS (
    SELECT split, state_hash, any_value(state_pp) AS state_pp, count(*) AS nodes,
           sum(visits)::BIGINT AS visits,
           -- summed in one fixed order: a float sum in thread order changes the last digit between builds
           list_sum(list(q_value * visits ORDER BY q_value, visits) FILTER (WHERE visits > 0))
               / sum(visits) FILTER (WHERE visits > 0) AS q_value
    FROM records GROUP BY ALL
)
SELECT p.split, p.state_pp, p.state_hash, a.provable, a.distance, p.nodes, p.visits, p.q_value
FROM per_split AS p
JOIN anywhere AS a USING (state_hash);
