-- explore_sft: every positive record of the inputs classified as an SFT pair under the
-- manifest's pairing ('manifest') and under BurnQED's own-state pairing
-- ('burnqed_compat'), by the views' sft_classify macro: what the theorem page shows
-- beside its trees. Dedup is global (an earlier file's equal pair wins), which is why
-- this is computed for all theorems at once.
CREATE OR REPLACE TABLE explore_sft AS
SELECT 'manifest' AS pairing, theorem_name, source, file_order, search, state_id, depth, state, tactic, status
FROM sft_classify(getvariable('pairing'))
UNION ALL
SELECT 'burnqed_compat' AS pairing, theorem_name, source, file_order, search, state_id, depth, state, tactic, status
FROM sft_classify('burnqed_compat');
