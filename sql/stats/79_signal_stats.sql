-- The report's Preferences and Value targets parts.
--
-- preference_stats: pairs per (split, source), and how many of them reject a tactic
-- whose node was expanded (searched further without a proof).
CREATE OR REPLACE VIEW preference_stats WITH (DEFER_BINDING) AS
SELECT split, source, count(*) AS pairs, count(*) FILTER (WHERE rejected_expanded) AS rejected_expanded
FROM preference_pairs
GROUP BY ALL
ORDER BY split, min(source_order);

-- preference_branching: how many pairs each branch point (a distinct state) gives, as
-- (pairs, states).
CREATE OR REPLACE VIEW preference_branching WITH (DEFER_BINDING) AS
SELECT pairs, count(*) AS states
FROM (SELECT state_hash, count(*) AS pairs FROM preference_pairs GROUP BY ALL)
GROUP BY ALL
ORDER BY pairs;

-- value_stats: per split, the states, the provable ones, and the states present in both
-- splits (reached by theorems of both: one state, two splits' targets).
CREATE OR REPLACE VIEW value_stats WITH (DEFER_BINDING) AS
WITH both_splits AS (
    SELECT state_hash FROM value_target_figures GROUP BY ALL HAVING count(DISTINCT split) > 1
)
SELECT v.split, count(*) AS states, count(*) FILTER (WHERE v.provable) AS provable,
       count(*) FILTER (WHERE v.distance IS NOT NULL) AS with_distance,
       count(b.state_hash) AS in_both_splits,
       sum(v.nodes)::BIGINT AS nodes, count(*) FILTER (WHERE v.visits > 0) AS with_visits
FROM value_target_figures AS v
LEFT JOIN both_splits AS b USING (state_hash)
GROUP BY ALL
ORDER BY v.split;

-- value_distances: the distance histogram, (split, distance, states).
CREATE OR REPLACE VIEW value_distances WITH (DEFER_BINDING) AS
SELECT split, distance, count(*) AS states
FROM value_target_figures
WHERE distance IS NOT NULL
GROUP BY ALL
ORDER BY split, distance;
