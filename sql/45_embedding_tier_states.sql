-- embedding_tier_states: what the optional embedding tier searches, per split: the
-- distinct positive states the samples start from (contrastive_anchors, role
-- 'anchor') and the distinct negative states (role 'pool').
-- prover_data/embeddings/negative_tier.py finds each anchor's nearest pool states
-- (faiss) and registers them as embedding_neighbors_input (split, pos_state_hash,
-- idx, state_hash, cosine), which contrastive_samples draws from. Searching within
-- the split keeps val negatives out of train samples.
CREATE OR REPLACE VIEW embedding_tier_states AS
SELECT DISTINCT split, 'anchor' AS role, pos_state_hash AS state_hash FROM contrastive_anchors
UNION ALL
SELECT DISTINCT split, 'pool' AS role, state_hash FROM contrastive_negatives;
