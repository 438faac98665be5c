-- explore_other: the other build's theorems (other_theorems.sql, registered as
-- explore_other_input by Python), kept as a table.
CREATE OR REPLACE TABLE explore_other AS
SELECT theorem_name, proved FROM explore_other_input;

-- Two builds' theorem sets side by side: this build (explore_theorems with records)
-- against the other (explore_other). Each theorem lands in one category:
--   proved_here_only / proved_there_only  in both builds, proved in one only
--   here_only / there_only                in one build only
--   both_proved / neither_proved          in both, same outcome
CREATE OR REPLACE TABLE explore_compare AS
WITH here AS (
    SELECT theorem_name, proved FROM explore_theorems WHERE nodes > 0
)
SELECT theorem_name,
       CASE WHEN o.theorem_name IS NULL THEN 'here_only'
            WHEN h.theorem_name IS NULL THEN 'there_only'
            WHEN h.proved AND NOT o.proved THEN 'proved_here_only'
            WHEN o.proved AND NOT h.proved THEN 'proved_there_only'
            WHEN h.proved THEN 'both_proved'
            ELSE 'neither_proved' END AS category,
       h.proved AS proved_here, o.proved AS proved_there
FROM here AS h
FULL OUTER JOIN explore_other AS o USING (theorem_name)
ORDER BY theorem_name;
