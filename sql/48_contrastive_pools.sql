-- contrastive_pools: what each tier of contrastive_samples draws from, so a consumer can
-- redraw a negative the way the sampler would (the EBM loader refills a negative whose
-- state has no vector from the same tier's pool, under [embeddings] missing = "skip").
--   hard / medium  the distinct states of a theorem's sibling / non-sibling negatives
--                  in its split (theorem_name set)
--   embedding      a positive's nearest negative states (pos_state_hash set; only with
--                  the embedding tier on)
-- The easy pool is every negative state of the split: the union of its hard and medium
-- rows. False negatives are already out under false_negatives = 'exclude'.
CREATE OR REPLACE VIEW contrastive_pools WITH (DEFER_BINDING) AS
SELECT DISTINCT split, tier, theorem_name, NULL::BLOB AS pos_state_hash, state_hash
FROM contrastive_negatives
UNION ALL
SELECT DISTINCT split, 'embedding' AS tier, NULL AS theorem_name, pos_state_hash, state_hash
FROM embedding_neighbors_input;
