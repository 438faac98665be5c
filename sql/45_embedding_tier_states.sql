-- embedding_tier_states: what the optional embedding tier searches, per split: the
-- distinct positive states the samples start from (contrastive_anchors, role
-- 'anchor') and the distinct negative states (role 'pool').
-- prover_data/embeddings/negative_tier.py finds each anchor's nearest pool states
-- (faiss) and registers them as embedding_neighbors_input (split, pos_state_hash,
-- idx, state_hash, cosine), which contrastive_samples draws from. Searching within
-- the split keeps val negatives out of train samples.
-- When the manifest excludes false negatives, roles 'anchor_keep' and 'pool_keep' are
-- what false_negatives = 'keep' would search for the report's count of samples that
-- would hold their own positive: the anchors whose state is among the split's negative
-- records, and all those records' states (embedding_neighbors_keep_input).
CREATE OR REPLACE VIEW embedding_tier_states WITH (DEFER_BINDING) AS
SELECT DISTINCT split, 'anchor' AS role, pos_state_hash AS state_hash FROM contrastive_anchors
UNION ALL
SELECT DISTINCT split, 'pool' AS role, state_hash FROM contrastive_negatives
UNION ALL
SELECT DISTINCT a.split, 'anchor_keep' AS role, a.pos_state_hash AS state_hash
FROM contrastive_anchors AS a
SEMI JOIN contrastive_negative_records AS n ON n.split = a.split AND n.state_hash = a.pos_state_hash
WHERE getvariable('false_negatives') = 'exclude'
UNION ALL
SELECT DISTINCT split, 'pool_keep' AS role, state_hash FROM contrastive_negative_records
WHERE getvariable('false_negatives') = 'exclude';
