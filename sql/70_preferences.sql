-- Preference pairs at the search trees' branch points, for DPO: at a node, a tactic
-- that led to a proof (chosen) against one that led nowhere (rejected). Labels are the
-- manifest's [labels] (02_trajectories.sql): tree labels by default.
--
-- tree_actions: every record as a tactic tried AT a node (at_row, that node's file
-- row): in a search file the record's tactic_applied was applied at its parent (the
-- node a pair sits at); in own_state_sources (generate-negatives chains) a positive
-- record holds the tactic applied at its own state, a negative the wrong tactic tried
-- at its parent's -- the same pairing as sft_candidates', whose state_row is this
-- at_row for the positive records. With:
--   unproved     the record is negative, labelled negative in its file, and not
--                provable: a rejected tactic when, besides, its state is the state of
--                no positive record anywhere (the false-negative rule, applied below)
CREATE OR REPLACE VIEW tree_actions WITH (DEFER_BINDING) AS
SELECT t.file_order, t.source, t.theorem_name, t.file_row, t.state_hash, t.tactic_applied,
       CASE WHEN chain.step THEN t.file_row ELSE l.parent_row END AS at_row,
       t.label = 'negative' AND t.file_label = 'negative' AND NOT t.provable AS unproved
FROM trajectories AS t
JOIN trajectory_links AS l USING (file_order, file_row)
CROSS JOIN LATERAL (
    SELECT list_contains(getvariable('own_state_sources'), t.source) AND t.label = 'positive' AS step) AS chain
WHERE chain.step OR l.parent_row IS NOT NULL;

-- preference_pairs: one row per distinct (stripped state, chosen tactic, rejected
-- tactic) over every branch point whose state is non-empty, with its theorem's split
-- (theorem_split, as the SFT pairs). The chosen tactics and their states are the
-- positive records' pairs of sft_candidates, stripped as the SFT pairs are, so a
-- prompt and its chosen completion are exactly an SFT pair's; chosen_distance is
-- steps from the state the tactic leads to, to a proof (the record's remaining_depth,
-- one less for a chain record, whose own state is the one the tactic is applied at).
-- Both tactics are non-empty after stripping, hold no `sorry` and differ. The first
-- occurrence in manifest order, then row order (the chosen record's, then the
-- rejected's), gives the row its theorem, source, chosen_distance and
-- rejected_expanded (the rejected record has children of its own). [preferences]
-- rejected = 'expanded' keeps only rejected tactics whose node was expanded and still
-- holds no proof; max_per_parent > 0 keeps that many pairs per state, the least
-- draw(seed : state : chosen : rejected): a choice by content, whatever the files'
-- order. The nodes with a chosen tactic come first, so only their children are looked
-- at as rejected ones.
CREATE OR REPLACE VIEW preference_pairs WITH (DEFER_BINDING) AS
WITH chosen_ok AS (
    SELECT file_order, state_row AS at_row, parent_state AS state, tactic, theorem_name, source, file_row,
           (CASE WHEN list_contains(getvariable('own_state_sources'), source)
                 THEN remaining_depth - 1 ELSE remaining_depth END)::INTEGER AS distance
    FROM sft_candidates
    WHERE positive AND parent_state <> '' AND tactic <> '' AND NOT contains(tactic, 'sorry')
), at_nodes AS (
    SELECT DISTINCT file_order, at_row FROM chosen_ok
), positive_states AS (  -- the states of positive records: `states` has counted them
    SELECT state_hash FROM states WHERE n_positive > 0
), expanded AS (
    SELECT DISTINCT file_order, parent_row AS file_row FROM trajectory_links WHERE parent_row IS NOT NULL
), rejected AS MATERIALIZED (  -- the children of those nodes only: stripped after this
    SELECT a.file_order, a.file_row, a.at_row, a.tactic_applied, e.file_row IS NOT NULL AS expanded
    FROM tree_actions AS a
    SEMI JOIN at_nodes AS n ON n.file_order = a.file_order AND n.at_row = a.at_row
    ANTI JOIN positive_states AS p ON p.state_hash = a.state_hash
    LEFT JOIN expanded AS e ON e.file_order = a.file_order AND e.file_row = a.file_row
    WHERE a.unproved
), rejected_stripped AS MATERIALIZED (  -- each tactic stripped once, not once per test of it
    SELECT *, py_strip(tactic_applied) AS tactic FROM rejected
    WHERE getvariable('preferences_rejected') = 'any' OR expanded
), rejected_ok AS (
    SELECT * FROM rejected_stripped WHERE tactic <> '' AND NOT contains(tactic, 'sorry')
), pairs AS (
    SELECT c.state, c.tactic AS chosen, r.tactic AS rejected, c.theorem_name, c.source, c.file_order,
           c.file_row AS chosen_row, r.file_row AS rejected_row, c.distance AS chosen_distance,
           r.expanded AS rejected_expanded
    FROM chosen_ok AS c
    JOIN rejected_ok AS r ON r.file_order = c.file_order AND r.at_row = c.at_row
    WHERE c.tactic <> r.tactic
), firsts AS (
    SELECT state, chosen, rejected,
           arg_min({'theorem_name': theorem_name, 'source': source, 'file_order': file_order,
                    'chosen_distance': chosen_distance, 'rejected_expanded': rejected_expanded},
                   (file_order, chosen_row, rejected_row)) AS kept
    FROM pairs
    GROUP BY ALL
), ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY state ORDER BY draw(getvariable('preferences_seed') || ':' || state
                                                               || ':' || chosen || ':' || rejected), chosen, rejected) AS rank
    FROM firsts
)
SELECT replace(getvariable('prompt_template'), '{state}', r.state) AS prompt, r.chosen, r.rejected,
       r.kept.theorem_name AS theorem_name, r.kept.source AS source, state_hash(r.state) AS state_hash,
       r.kept.chosen_distance AS chosen_distance, r.kept.rejected_expanded AS rejected_expanded,
       r.state AS state_pp, r.kept.file_order AS source_order, s.split
FROM ranked AS r
JOIN theorem_split AS s ON s.theorem_name = r.kept.theorem_name
WHERE getvariable('preferences_max_per_parent') = 0 OR r.rank <= getvariable('preferences_max_per_parent');
