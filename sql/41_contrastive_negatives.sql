-- contrastive_negative_records: every negative record, its tier and whether it is a
-- false negative.
-- A negative is a *sibling* (tier 'hard') when a positive of the same theorem shares
-- its parent_state_id, else a same-theorem *non-sibling* (tier 'medium').
-- sibling_scope 'file' matches parents within one search of one file only: state ids
-- number the nodes of ONE search, so id 3 in iter_1 and id 3 in iter_2 (or in a second
-- search of the theorem in one file) are different nodes. sibling_scope 'theorem' is
-- BurnQED's rule, (theorem, parent_state_id) across all files and searches; both flags
-- are kept so the report can say how much the rules disagree.
-- false_negative: the record's exact state text is a `positive` record somewhere in the
-- manifest's trajectory files (any file, search, theorem or split). Provability belongs
-- to the state, not to the search that reached it, so such a record is not evidence
-- that its state is unprovable.
CREATE OR REPLACE VIEW contrastive_negative_records WITH (DEFER_BINDING) AS
WITH positive_parents_file AS (
    SELECT DISTINCT file_order, search, theorem_name, parent_state_id
    FROM contrastive_records WHERE label = 'positive' AND parent_state_id IS NOT NULL
), positive_parents_theorem AS (
    SELECT DISTINCT theorem_name, parent_state_id FROM positive_parents_file
), positive_states AS (
    SELECT DISTINCT state_hash FROM trajectories WHERE label = 'positive'
)
SELECT n.*,
       f.theorem_name IS NOT NULL AS sibling_in_file,
       t.theorem_name IS NOT NULL AS sibling_in_theorem,
       CASE WHEN (getvariable('sibling_scope') = 'file' AND sibling_in_file)
              OR (getvariable('sibling_scope') = 'theorem' AND sibling_in_theorem)
            THEN 'hard' ELSE 'medium' END AS tier,
       p.state_hash IS NOT NULL AS false_negative
FROM contrastive_records AS n
LEFT JOIN positive_parents_file AS f
    ON f.file_order = n.file_order AND f.search = n.search AND f.theorem_name = n.theorem_name
   AND f.parent_state_id = n.parent_state_id
LEFT JOIN positive_parents_theorem AS t
    ON t.theorem_name = n.theorem_name AND t.parent_state_id = n.parent_state_id
LEFT JOIN positive_states AS p ON p.state_hash = n.state_hash
WHERE n.label = 'negative';

-- contrastive_negatives: the negatives the sampler draws from, every tier alike.
-- false_negatives 'exclude' leaves out the false negatives; 'keep' draws them, as
-- BurnQED does.
CREATE OR REPLACE VIEW contrastive_negatives WITH (DEFER_BINDING) AS
SELECT * FROM contrastive_negative_records
WHERE getvariable('false_negatives') = 'keep' OR NOT false_negative;
