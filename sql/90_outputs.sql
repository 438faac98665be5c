-- The build's outputs, one view each, in the exact columns of prover_data/schema.py and
-- in a content order (never input row order), so two builds write the same bytes.
CREATE OR REPLACE VIEW out_sft_train WITH (DEFER_BINDING) AS
SELECT theorem_name, source, state_pp, tactic, state_hash, depth
FROM sft_pairs WHERE split = 'train'
ORDER BY source_order, theorem_name, depth, state_pp, tactic;

CREATE OR REPLACE VIEW out_sft_val WITH (DEFER_BINDING) AS
SELECT theorem_name, source, state_pp, tactic, state_hash, depth
FROM sft_pairs WHERE split = 'val'
ORDER BY source_order, theorem_name, depth, state_pp, tactic;

CREATE OR REPLACE VIEW out_contrastive_train WITH (DEFER_BINDING) AS
SELECT sample_id, round, theorem_name, source, pos_state_hash, pos_remaining_depth, neg_state_hashes, neg_tiers
FROM contrastive_samples WHERE split = 'train'
ORDER BY sample_id;

CREATE OR REPLACE VIEW out_contrastive_val WITH (DEFER_BINDING) AS
SELECT sample_id, round, theorem_name, source, pos_state_hash, pos_remaining_depth, neg_state_hashes, neg_tiers
FROM contrastive_samples WHERE split = 'val'
ORDER BY sample_id;

CREATE OR REPLACE VIEW out_states WITH (DEFER_BINDING) AS
SELECT state_hash, state_pp, n_records, n_positive, n_negative
FROM states
ORDER BY state_hash;

CREATE OR REPLACE VIEW out_contrastive_pools WITH (DEFER_BINDING) AS
SELECT split, tier, theorem_name, pos_state_hash, state_hash
FROM contrastive_pools
ORDER BY split, tier, theorem_name, pos_state_hash, state_hash;

CREATE OR REPLACE VIEW out_preferences_train WITH (DEFER_BINDING) AS
SELECT prompt, chosen, rejected, theorem_name, source, state_hash, chosen_distance, rejected_expanded
FROM preference_pairs WHERE split = 'train'
ORDER BY source_order, theorem_name, state_pp, chosen, rejected;

CREATE OR REPLACE VIEW out_preferences_val WITH (DEFER_BINDING) AS
SELECT prompt, chosen, rejected, theorem_name, source, state_hash, chosen_distance, rejected_expanded
FROM preference_pairs WHERE split = 'val'
ORDER BY source_order, theorem_name, state_pp, chosen, rejected;

CREATE OR REPLACE VIEW out_values_train WITH (DEFER_BINDING) AS
SELECT state_pp, state_hash, provable, distance, nodes, visits, q_value
FROM value_targets WHERE split = 'train'
ORDER BY state_hash;

CREATE OR REPLACE VIEW out_values_val WITH (DEFER_BINDING) AS
SELECT state_pp, state_hash, provable, distance, nodes, visits, q_value
FROM value_targets WHERE split = 'val'
ORDER BY state_hash;
