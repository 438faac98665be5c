-- states: every unique state of a positive or negative record, for the embedding
-- store (the report's "unique states"). Keyed and ordered by state_hash.
CREATE OR REPLACE VIEW states AS
SELECT state_hash,
       min(state_pp) AS state_pp,
       count(*) AS n_records,
       count(*) FILTER (WHERE label = 'positive') AS n_positive,
       count(*) FILTER (WHERE label = 'negative') AS n_negative
FROM trajectories
WHERE label IN ('positive', 'negative')
GROUP BY state_hash;
