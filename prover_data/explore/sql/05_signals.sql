-- The build's preference pairs and value targets, each row with its split, read once
-- at start-up from its parquet files (paths in variables) for the theorem page: a
-- theorem's pairs (the theorem a pair is credited to: its first occurrence) and each
-- node's value targets.
CREATE OR REPLACE TABLE explore_preferences AS
SELECT 'train' AS split, * FROM read_parquet(getvariable('explore_preferences_train'))
UNION ALL
SELECT 'val' AS split, * FROM read_parquet(getvariable('explore_preferences_val'));

CREATE OR REPLACE TABLE explore_values AS
SELECT 'train' AS split, * FROM read_parquet(getvariable('explore_values_train'))
UNION ALL
SELECT 'val' AS split, * FROM read_parquet(getvariable('explore_values_val'));
