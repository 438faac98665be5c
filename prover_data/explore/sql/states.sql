-- The text and record counts of $hashes from the build's states.parquet ($states).
SELECT state_hash, state_pp, n_positive, n_negative
FROM read_parquet($states)
WHERE list_contains($hashes, state_hash);
