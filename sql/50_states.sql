-- states: every unique state of a positive or negative record (the records BurnQED's
-- EBM loader keeps), for the embedding store: the report's "N unique states". Keyed by
-- state_hash (identity.state_hash); the empty state of a completed node is a state too,
-- as it is to BurnQED. n_positive / n_negative count records, so a state with both
-- labels (positive in one search, negative in another) shows both.
CREATE OR REPLACE VIEW states WITH (DEFER_BINDING) AS
SELECT state_hash,
       any_value(state_pp) AS state_pp,
       count(*) AS n_records,
       count(*) FILTER (WHERE label = 'positive') AS n_positive,
       count(*) FILTER (WHERE label = 'negative') AS n_negative
FROM trajectories
WHERE label IN ('positive', 'negative')
GROUP BY state_hash;
