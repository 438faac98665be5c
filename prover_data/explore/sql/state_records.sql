-- Where states came from: the trajectory records holding each of $hashes (file, search,
-- node, theorem, label), at most $per_state per state (first by file order) plus how
-- many there are in all.
WITH hits AS (
    SELECT state_hash, theorem_name, source, file_order, search, state_id, label,
           row_number() OVER (PARTITION BY state_hash ORDER BY file_order, search, theorem_name, state_id) AS rank,
           count(*) OVER (PARTITION BY state_hash) AS n_records
    FROM explore_records
    WHERE list_contains($hashes, state_hash)
)
SELECT state_hash, theorem_name, source, search, state_id, label, n_records
FROM hits
WHERE rank <= $per_state
ORDER BY state_hash, rank;
