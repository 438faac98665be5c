-- pairing_agreement: how far BurnQED's own-state pairing is from the parent pairing.
-- Counts the usable (state, tactic) pairs of each, and the pairs only one of them has.
-- A pairing's usable pairs, as a set, are the distinct pairs the empty and sorry filters
-- let through: dedup (sft_classify) only decides which record keeps each pair.
CREATE OR REPLACE VIEW pairing_agreement WITH (DEFER_BINDING) AS
WITH pairs AS (
    SELECT parent_state, own_state, tactic,
           getvariable('drop_empty') AND tactic = '' AS empty_tactic,
           getvariable('drop_sorry') AND contains(tactic, 'sorry') AS is_sorry
    FROM sft_candidates
    WHERE positive
), parent AS (
    SELECT DISTINCT parent_state AS state, tactic FROM pairs
    WHERE NOT empty_tactic AND NOT is_sorry AND NOT (getvariable('drop_empty') AND parent_state = '')
), compat AS (
    SELECT DISTINCT own_state AS state, tactic FROM pairs
    WHERE NOT empty_tactic AND NOT is_sorry AND NOT (getvariable('drop_empty') AND own_state = '')
)
SELECT
    (SELECT count(*) FROM parent) AS usable_parent,
    (SELECT count(*) FROM compat) AS usable_compat,
    (SELECT count(*) FROM (SELECT * FROM parent EXCEPT SELECT * FROM compat)) AS only_parent,
    (SELECT count(*) FROM (SELECT * FROM compat EXCEPT SELECT * FROM parent)) AS only_compat;
