-- contrastive_records: the records the EBM sampler sees (BurnQED's ContrastiveSampler
-- ignores `unknown`), with their theorem's split. States travel as their hash: the
-- sampler draws hashes, and the text is in `states`.
CREATE OR REPLACE VIEW contrastive_records WITH (DEFER_BINDING) AS
SELECT t.theorem_name, t.source, t.file_order, t.search, t.state_id, t.parent_state_id, t.label,
       t.state_hash, t.remaining_depth, s.split
FROM trajectories AS t
JOIN theorem_split AS s USING (theorem_name)
WHERE t.label IN ('positive', 'negative');
