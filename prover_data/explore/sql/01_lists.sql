-- explore_lists: theorem lists the pages mark membership in, one row per (list, theorem):
-- kind 'index' (the manifest's theorem index, for statements), 'eval' (the build's eval
-- sets) and 'held_out' (the manifest's held-out lists). Filled by 02_list_insert.sql.
CREATE OR REPLACE TABLE explore_lists (
    kind VARCHAR NOT NULL,
    list VARCHAR NOT NULL,
    theorem_name VARCHAR NOT NULL,
    statement VARCHAR
);
