-- base_pairs: base (state, tactic) pairs (LeanDojo traced tactics: state_before and
-- the tactic applied to it, so no re-pairing is needed), filtered like trajectory
-- pairs (empty, sorry, duplicates), split by the same theorem rule as the
-- trajectories (a theorem in val never teaches train through its base pairs), and
-- the train side subsampled to base_subsample pairs (-1 keeps all), ranked by
-- draw(seed, theorem, state, tactic): a content order, so the subsample does not
-- depend on the order of the input file.
CREATE OR REPLACE VIEW base_pairs_classified WITH (DEFER_BINDING) AS
WITH raw AS (
    SELECT theorem_name, tactic_index, py_strip(state_pp) AS state, py_strip(tactic) AS tactic
    FROM base_pairs_input
), flagged AS (
    SELECT *,
           state = '' OR tactic = '' AS is_empty,
           contains(tactic, 'sorry') AS is_sorry
    FROM raw
), ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY state, tactic, (is_empty OR is_sorry)
                              ORDER BY theorem_name, tactic_index) AS occurrence,
           CASE WHEN theorem_bucket(theorem_name) < getvariable('val_fraction') THEN 'val' ELSE 'train' END AS split
    FROM flagged
)
SELECT *,
       CASE WHEN is_empty THEN 'empty' WHEN is_sorry THEN 'sorry'
            WHEN occurrence > 1 THEN 'dup' ELSE 'usable' END AS status,
       draw(getvariable('base_seed') || ':' || theorem_name || ':' || state || ':' || tactic) AS rank_key
FROM ranked;

CREATE OR REPLACE VIEW base_pairs WITH (DEFER_BINDING) AS
WITH usable AS (
    SELECT *, row_number() OVER (PARTITION BY split ORDER BY rank_key, theorem_name, tactic_index) AS rank
    FROM base_pairs_classified
    WHERE status = 'usable'
)
SELECT theorem_name, 'base' AS source, state AS state_pp, tactic,
       state_hash(state) AS state_hash, tactic_index AS depth, split
FROM usable
WHERE split = 'val' OR getvariable('base_subsample') < 0 OR rank <= getvariable('base_subsample');
