-- explore_records: every trajectory record, read from the inputs once at start-up.
-- A node is (source, search, theorem_name, state_id): source is the file stem, search
-- the 0-based search of the theorem in that file (each restarts state ids at 0).
-- A main-schema table so every request's cursor reads it; the temp view shadowing
-- `trajectories` makes the sql/ views (theorem_split, sft_classify) read this copy
-- instead of parsing the parquet files again.
CREATE OR REPLACE TABLE explore_records AS
SELECT * FROM main.trajectories;

CREATE OR REPLACE TEMP VIEW trajectories AS
SELECT * FROM explore_records;
