-- The report's Labels part: what the search trees say beside the files' labels
-- (02_trajectories.sql defines provable, distance and the tree label).
--
-- label_stats: one row per trajectory file.
--   completed_nodes              nodes that close every goal (is_proof_complete): proofs
--   relabelled_nodes             nodes the tree labels positive and the file does not
--                                (other proofs than a search's first, and their paths)
--   provable_file_negatives      records the file labels negative that the tree proves,
--   provable_file_negative_states  and their distinct states: what [labels] source =
--                                "file" puts in the contrastive pools as negatives
--   positive_without_proof       records the file calls positive with no completed node
--                                below them (a proof path listed without its final node;
--                                generate-negatives chains are all such)
CREATE OR REPLACE VIEW label_stats WITH (DEFER_BINDING) AS
SELECT f.file_order, f.source,
       count(*) FILTER (WHERE t.is_proof_complete) AS completed_nodes,
       count(*) FILTER (WHERE t.relabelled) AS relabelled_nodes,
       count(*) FILTER (WHERE t.file_label = 'negative' AND t.provable) AS provable_file_negatives,
       count(DISTINCT t.state_hash) FILTER (WHERE t.file_label = 'negative' AND t.provable) AS provable_file_negative_states,
       count(*) FILTER (WHERE t.file_label = 'positive' AND NOT t.provable) AS positive_without_proof
FROM trajectory_files AS f
JOIN trajectories AS t USING (file_order)
GROUP BY ALL
ORDER BY f.file_order;

-- proofs_per_search: how many proofs (completed nodes) each proved search holds, as
-- (proofs, searches); BurnQED labels only the first of each positive.
CREATE OR REPLACE VIEW proofs_per_search WITH (DEFER_BINDING) AS
SELECT proofs, count(*) AS searches
FROM (SELECT file_order, search, theorem_name, count(*) FILTER (WHERE is_proof_complete) AS proofs
      FROM trajectories GROUP BY ALL)
WHERE proofs > 0
GROUP BY proofs
ORDER BY proofs;

-- label_agreement: one row. The usable SFT pairs (distinct (state, tactic) pairs the
-- empty and sorry filters let through, under the manifest's pairing, as
-- pairing_agreement counts them) that tree labels and file labels each give, and the
-- ones only one of them gives (sft_pairs_only_tree: what the other proofs add); and
-- the drawn negatives of contrastive_samples whose state some node proves (provable
-- anywhere), with the samples holding one: 0 under tree labels with false negatives
-- excluded, what the file labels put before the energy head otherwise.
CREATE OR REPLACE VIEW label_agreement WITH (DEFER_BINDING) AS
WITH candidates AS (
    SELECT CASE WHEN getvariable('pairing') = 'burnqed_compat' THEN own_state ELSE parent_state END AS state,
           tactic, tree_positive, file_positive
    FROM sft_candidates
), kept AS (
    SELECT * FROM candidates
    WHERE NOT (getvariable('drop_empty') AND (state = '' OR tactic = ''))
      AND NOT (getvariable('drop_sorry') AND contains(tactic, 'sorry'))
), tree AS (
    SELECT DISTINCT state, tactic FROM kept WHERE tree_positive
), file AS (
    SELECT DISTINCT state, tactic FROM kept WHERE file_positive
), provable_states AS (
    SELECT DISTINCT state_hash FROM trajectories WHERE provable
), drawn AS (
    SELECT s.split, s.sample_id, count(*) AS n
    FROM (SELECT split, sample_id, unnest(neg_state_hashes) AS state_hash FROM contrastive_samples) AS s
    SEMI JOIN provable_states AS p USING (state_hash)
    GROUP BY ALL
)
SELECT
    (SELECT count(*) FROM tree) AS sft_pairs_tree,
    (SELECT count(*) FROM file) AS sft_pairs_file,
    (SELECT count(*) FROM (SELECT * FROM tree EXCEPT SELECT * FROM file)) AS sft_pairs_only_tree,
    (SELECT count(*) FROM (SELECT * FROM file EXCEPT SELECT * FROM tree)) AS sft_pairs_only_file,
    (SELECT coalesce(sum(n), 0)::BIGINT FROM drawn) AS drawn_provable_negatives,
    (SELECT count(*) FROM drawn) AS samples_with_provable_negative,
    (SELECT count(*) FROM contrastive_samples) AS samples;
