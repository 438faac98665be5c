-- contrastive_negatives: each negative record and its tier.
-- A negative is a *sibling* (tier 'hard') when a positive of the same theorem shares
-- its parent_state_id, else a same-theorem *non-sibling* (tier 'medium').
-- sibling_scope 'file' matches parents within one file only: state ids number the
-- nodes of ONE search, so id 3 in iter_1 and id 3 in iter_2 are different nodes.
-- sibling_scope 'theorem' is BurnQED's rule, (theorem, parent_state_id) across all
-- files; both flags are kept so the report can say how much the rules disagree.
CREATE OR REPLACE VIEW contrastive_negatives AS
WITH positive_parents_file AS (
    SELECT DISTINCT file_order, theorem_name, parent_state_id
    FROM contrastive_records WHERE label = 'positive' AND parent_state_id IS NOT NULL
), positive_parents_theorem AS (
    SELECT DISTINCT theorem_name, parent_state_id FROM positive_parents_file
)
SELECT n.*,
       f.theorem_name IS NOT NULL AS sibling_in_file,
       t.theorem_name IS NOT NULL AS sibling_in_theorem,
       CASE WHEN (getvariable('sibling_scope') = 'file' AND sibling_in_file)
              OR (getvariable('sibling_scope') = 'theorem' AND sibling_in_theorem)
            THEN 'hard' ELSE 'medium' END AS tier
FROM contrastive_records AS n
LEFT JOIN positive_parents_file AS f
    ON f.file_order = n.file_order AND f.theorem_name = n.theorem_name AND f.parent_state_id = n.parent_state_id
LEFT JOIN positive_parents_theorem AS t
    ON t.theorem_name = n.theorem_name AND t.parent_state_id = n.parent_state_id
WHERE n.label = 'negative';
