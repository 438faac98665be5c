-- pairing_agreement: how far BurnQED's own-state pairing is from the parent pairing.
-- Counts the usable (state, tactic) pairs of each, and the pairs only one of them has.
CREATE OR REPLACE VIEW pairing_agreement AS
WITH parent AS (
    SELECT DISTINCT state, tactic FROM sft_classify('parent') WHERE status = 'usable'
), compat AS (
    SELECT DISTINCT state, tactic FROM sft_classify('burnqed_compat') WHERE status = 'usable'
)
SELECT
    (SELECT count(*) FROM parent) AS usable_parent,
    (SELECT count(*) FROM compat) AS usable_compat,
    (SELECT count(*) FROM (SELECT * FROM parent EXCEPT SELECT * FROM compat)) AS only_parent,
    (SELECT count(*) FROM (SELECT * FROM compat EXCEPT SELECT * FROM parent)) AS only_compat;
