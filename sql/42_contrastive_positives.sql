-- contrastive_positives: the positive records a sample may start from.
-- positive_states 'non_empty' drops completed nodes, whose state is empty (no goals
-- left): one identical empty-string embedding for every theorem teaches the energy
-- head nothing about provability. 'all' keeps them, as BurnQED does.
CREATE OR REPLACE VIEW contrastive_positives WITH (DEFER_BINDING) AS
SELECT *
FROM contrastive_records
WHERE label = 'positive'
  AND (getvariable('positive_states') = 'all' OR state_hash <> state_hash(''));
