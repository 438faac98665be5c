-- contrastive_anchors: the positive each sample of contrastive_samples starts from.
-- For each round 1..rounds and each theorem of a split with a positive (after
-- positive_states): one of the theorem's positives, draw(seed : positive : round :
-- theorem) modulo their number, numbered by content (state hash). Its own view so the
-- embedding tier searches neighbours for these states only.
CREATE OR REPLACE VIEW contrastive_anchors WITH (DEFER_BINDING) AS
WITH positives AS (
    SELECT *,
           row_number() OVER (PARTITION BY split, theorem_name ORDER BY state_hash, file_order, search, state_id) - 1 AS idx,
           count(*) OVER (PARTITION BY split, theorem_name) AS n
    FROM contrastive_positives
)
SELECT p.split, p.theorem_name, r.round, p.source,
       p.state_hash AS pos_state_hash, p.remaining_depth AS pos_remaining_depth
FROM (SELECT DISTINCT split, theorem_name, n FROM positives) AS t
CROSS JOIN (SELECT unnest(range(1, getvariable('rounds') + 1)) AS round) AS r
JOIN positives AS p
  ON p.split = t.split AND p.theorem_name = t.theorem_name
 AND p.idx = (draw(getvariable('contrastive_seed') || ':positive:' || r.round || ':' || t.theorem_name) % t.n)::BIGINT;
