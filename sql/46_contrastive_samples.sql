-- contrastive_samples: the materialized K-negative sampling table, BurnQED's
-- ContrastiveSampler made deterministic, with an optional embedding tier.
--
-- For each round 1..rounds and each eligible theorem of a split: one positive of the
-- theorem (contrastive_anchors), then K negatives in up to four tiers:
--   hard      round(K * hard_ratio) siblings of the theorem (its 'hard' pool),
--   embedding round(K * embedding_ratio) of the positive's nearest negative states of
--             the split by encoder cosine (embedding_neighbors_input; empty when the
--             tier is off, embedding_ratio = 0),
--   medium    round(K * medium_ratio) + the shortfall of hard and embedding,
--             same-theorem non-siblings,
--   easy      the rest + medium's shortfall, any negative of the split, trying up to
--             three draws for one of another theorem before accepting the third (as
--             BurnQED).
-- A tier whose pool is empty passes its whole quota on (hard, embedding -> medium ->
-- easy). Picks are with replacement, as BurnQED's sample_from_pool. Every pick is
-- draw(seed : tier : round : theorem : slot) modulo the pool size, over pools numbered
-- by content (state hash; neighbours by rank), so the table depends on content and
-- seed only. A split with no negatives at all yields no samples (nothing to contrast).
--
-- contrastive_negative_order numbers every negative record in its theorem's tier pool
-- and in its split, under both false_negatives policies at once (one sort each: a
-- record's number under 'exclude' counts the records before it that are not false
-- negatives), so drawing the table under either policy is joins only.
--
-- contrastive_draws(policy, only_at_risk) is the table under a false_negatives policy
-- ('exclude' or 'keep', see 41_contrastive_negatives.sql). only_at_risk limits it to
-- the anchors whose own positive state is among the split's negatives under that
-- policy -- the only samples that can hold their own positive as a negative -- so the
-- report can count them under 'keep' without drawing the whole table twice (a sample's
-- draws depend on its own anchor and pools only). Under 'keep' when the manifest
-- excludes, the embedding tier reads embedding_neighbors_keep_input, the neighbours of
-- those anchors among the negatives 'keep' would use.
CREATE OR REPLACE VIEW contrastive_negative_order WITH (DEFER_BINDING) AS
SELECT split, theorem_name, tier, state_hash, false_negative,
       row_number() OVER pool - 1 AS pool_idx_keep,
       sum((NOT false_negative)::INTEGER) OVER (pool ROWS UNBOUNDED PRECEDING)::BIGINT - 1 AS pool_idx_exclude,
       row_number() OVER whole - 1 AS split_idx_keep,
       sum((NOT false_negative)::INTEGER) OVER (whole ROWS UNBOUNDED PRECEDING)::BIGINT - 1 AS split_idx_exclude
FROM contrastive_negative_records
WINDOW pool AS (PARTITION BY split, theorem_name, tier ORDER BY state_hash, file_order, search, state_id),
       whole AS (PARTITION BY split ORDER BY state_hash, theorem_name, file_order, search, state_id);

-- contrastive_quotas: one row, K and each tier's quota before a shortfall passes on:
-- round(K * ratio) (half away from zero), easy the rest. The sampler draws by it and
-- the report states it.
CREATE OR REPLACE VIEW contrastive_quotas WITH (DEFER_BINDING) AS
SELECT k, hard, embedding, medium, k - hard - embedding - medium AS easy
FROM (SELECT getvariable('k_negatives')::INTEGER AS k,
             round(getvariable('k_negatives') * getvariable('hard_ratio'))::INTEGER AS hard,
             round(getvariable('k_negatives') * getvariable('embedding_ratio'))::INTEGER AS embedding,
             round(getvariable('k_negatives') * getvariable('medium_ratio'))::INTEGER AS medium);

CREATE OR REPLACE MACRO contrastive_draws(policy, only_at_risk) AS TABLE
WITH k AS (
    SELECT k, hard AS hard0, medium AS medium0, embedding AS embedding0, getvariable('contrastive_seed') AS seed
    FROM contrastive_quotas
), negatives_drawn AS (
    SELECT split, theorem_name, tier, state_hash,
           CASE WHEN policy = 'keep' THEN pool_idx_keep ELSE pool_idx_exclude END AS pool_idx,
           CASE WHEN policy = 'keep' THEN split_idx_keep ELSE split_idx_exclude END AS split_idx
    FROM contrastive_negative_order
    WHERE policy = 'keep' OR NOT false_negative
), neighbours AS (
    SELECT * FROM embedding_neighbors_input WHERE policy = getvariable('false_negatives')
    UNION ALL
    SELECT * FROM embedding_neighbors_keep_input WHERE policy <> getvariable('false_negatives')
), anchors AS (
    SELECT * FROM contrastive_anchors AS a
    WHERE NOT only_at_risk
       OR EXISTS (SELECT 1 FROM negatives_drawn AS n WHERE n.split = a.split AND n.state_hash = a.pos_state_hash)
), pool_sizes AS (
    SELECT split, theorem_name,
           count(*) FILTER (WHERE tier = 'hard') AS n_hard,
           count(*) FILTER (WHERE tier = 'medium') AS n_medium
    FROM negatives_drawn GROUP BY ALL
), neighbour_sizes AS (
    SELECT split, pos_state_hash, count(*) AS n_embedding
    FROM neighbours GROUP BY ALL
), quotas AS (
    SELECT a.*, coalesce(s.n_hard, 0) AS n_hard, coalesce(s.n_medium, 0) AS n_medium,
           coalesce(e.n_embedding, 0) AS n_embedding,
           CASE WHEN coalesce(s.n_hard, 0) > 0 THEN k.hard0 ELSE 0 END AS q_hard,
           CASE WHEN coalesce(e.n_embedding, 0) > 0 THEN k.embedding0 ELSE 0 END AS q_embedding,
           CASE WHEN coalesce(s.n_medium, 0) > 0
                THEN k.medium0 + k.hard0 - q_hard + k.embedding0 - q_embedding ELSE 0 END AS q_medium
    FROM anchors AS a CROSS JOIN k
    LEFT JOIN pool_sizes AS s USING (split, theorem_name)
    LEFT JOIN neighbour_sizes AS e USING (split, pos_state_hash)
), slots AS (
    SELECT q.*, unnest(range(k.k)) AS position FROM quotas AS q CROSS JOIN k
), tiered AS (
    SELECT *,
           CASE WHEN position < q_hard THEN 'hard'
                WHEN position < q_hard + q_embedding THEN 'embedding'
                WHEN position < q_hard + q_embedding + q_medium THEN 'medium'
                ELSE 'easy' END AS tier,
           k.seed || ':' || tier || ':' || round || ':' || theorem_name || ':' || position AS slot_key
    FROM slots CROSS JOIN k
), same_theorem AS (
    SELECT t.split, t.theorem_name, t.round, t.position, t.tier, p.state_hash
    FROM tiered AS t
    JOIN negatives_drawn AS p
      ON p.split = t.split AND p.theorem_name = t.theorem_name AND p.tier = t.tier
     AND p.pool_idx = (draw(t.slot_key) % CASE t.tier WHEN 'hard' THEN t.n_hard ELSE t.n_medium END)::BIGINT
    WHERE t.tier IN ('hard', 'medium')
), nearest AS (
    SELECT t.split, t.theorem_name, t.round, t.position, t.tier, e.state_hash
    FROM tiered AS t
    JOIN neighbours AS e
      ON e.split = t.split AND e.pos_state_hash = t.pos_state_hash
     AND e.idx = (draw(t.slot_key) % t.n_embedding)::BIGINT
    WHERE t.tier = 'embedding'
), easy_tries AS (
    SELECT t.split, t.theorem_name, t.round, t.position, try.i AS attempt,
           (draw(t.slot_key || ':' || try.i) % s.n)::BIGINT AS target
    FROM tiered AS t
    JOIN (SELECT split, count(*) AS n FROM negatives_drawn GROUP BY ALL) AS s USING (split)
    CROSS JOIN (VALUES (0), (1), (2)) AS try(i)
    WHERE t.tier = 'easy'
), easy AS (
    SELECT e.split, e.theorem_name, e.round, e.position, 'easy' AS tier,
           -- the first draw of another theorem; if all three hit this theorem, the third
           arg_min(n.state_hash, CASE WHEN n.theorem_name <> e.theorem_name THEN e.attempt ELSE 20 - e.attempt END) AS state_hash
    FROM easy_tries AS e
    JOIN negatives_drawn AS n ON n.split = e.split AND n.split_idx = e.target
    GROUP BY ALL
), negatives AS (
    SELECT * FROM same_theorem
    UNION ALL
    SELECT * FROM nearest
    UNION ALL
    SELECT * FROM easy
), samples AS (
    SELECT a.split, a.round, a.theorem_name, a.source, a.pos_state_hash, a.pos_remaining_depth,
           list(n.state_hash ORDER BY n.position) AS neg_state_hashes,
           list(n.tier ORDER BY n.position) AS neg_tiers
    FROM anchors AS a
    JOIN negatives AS n USING (split, theorem_name, round)
    GROUP BY ALL
    HAVING count(*) = (SELECT k FROM k)
)
SELECT split,
       row_number() OVER (PARTITION BY split ORDER BY round, theorem_name) - 1 AS sample_id,
       round::INTEGER AS round, theorem_name, source, pos_state_hash,
       pos_remaining_depth::INTEGER AS pos_remaining_depth, neg_state_hashes, neg_tiers
FROM samples;

-- contrastive_samples: the table under the manifest's false_negatives policy.
CREATE OR REPLACE VIEW contrastive_samples WITH (DEFER_BINDING) AS
SELECT * FROM contrastive_draws(getvariable('false_negatives'), false);
