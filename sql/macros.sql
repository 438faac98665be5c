-- The macros every connection defines before any view or check (sql_files.define_macros:
-- views.open_inputs, and the one-file validator's connection), so a rule that both the
-- input views and the input checks use is stated here once.
--
-- state_hash(text): identity.state_hash, the 16-byte MD5 of the exact UTF-8 text, the
--   key of a state everywhere.
-- py_strip(s): strip leading/trailing whitespace exactly as Python's str.strip() does
--   (BurnQED's loader strips with it; DuckDB's trim() only removes spaces): every
--   character with str.isspace(), i.e. \t \n \v \f \r \x1c-\x1f, U+0085 and the Unicode
--   separators \p{Z} (U+0020, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
--   U+205F, U+3000). Only a string whose first or last character is one of them pays
--   for the regex (py_space): Lean goals end in Unicode symbols more often than not.
-- theorem_bucket(name): identity.split_bucket(split_seed, name), a number in [0, 1].
-- draw(key): a deterministic 60-bit number from a text key (identity.draw); every
--   seeded choice in the views is draw(seed || ':' || what || ':' || ...) modulo a pool
--   size, so a choice depends on content and seed only, never on row order or DuckDB's
--   hash().
-- search_numbers(rel): the rows of the table or view `rel`, each with `is_root` (null
--   parent, depth 0) and `search`, which search of its theorem in its file it belongs
--   to (0-based). `rel` has the columns file_order, theorem_name, file_row,
--   parent_state_id and depth_from_root. A theorem with one root in the file has one
--   search, 0, whatever the row order; with several roots, each root starts a new
--   search and a row belongs to the last root of its theorem at or above it in the
--   file, as a writer appends one search's rows after its root (-1 above the first:
--   validation refuses such a file). Only the rows of theorems with several roots pay
--   for the running count. trajectory_records (00_trajectories.sql) numbers the
--   records with it and checks/trajectory.sql the rows it validates, so the searches
--   validation checks are the searches the views read.
CREATE OR REPLACE MACRO state_hash(text) AS unhex(md5(text));

CREATE OR REPLACE MACRO py_space(c) AS
    ord(c) IN (9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8232, 8233, 8239, 8287, 12288)
    OR ord(c) BETWEEN 8192 AND 8202;

CREATE OR REPLACE MACRO py_strip(s) AS
    CASE WHEN NOT py_space(left(s, 1)) AND NOT py_space(right(s, 1)) THEN s
         ELSE regexp_replace(s, '^[\t\n\x{0b}\f\r \x{1c}-\x{1f}\x{85}\p{Z}]+|[\t\n\x{0b}\f\r \x{1c}-\x{1f}\x{85}\p{Z}]+$', '', 'g')
    END;

CREATE OR REPLACE MACRO theorem_bucket(name) AS
    ('0x' || left(md5(getvariable('split_seed') || ':' || name), 8))::UBIGINT / 4294967295.0;

CREATE OR REPLACE MACRO draw(key) AS
    ('0x' || left(md5(key), 15))::UBIGINT;

CREATE OR REPLACE MACRO search_numbers(rel) AS TABLE
WITH flagged AS (
    SELECT *, parent_state_id IS NULL AND depth_from_root = 0 AS is_root FROM query_table(rel)
), several AS (
    SELECT file_order, theorem_name FROM flagged WHERE is_root GROUP BY ALL HAVING count(*) > 1
)
SELECT *, 0 AS search
FROM flagged ANTI JOIN several USING (file_order, theorem_name)
UNION ALL
SELECT *,
       (count(*) FILTER (WHERE is_root) OVER (
            PARTITION BY file_order, theorem_name ORDER BY file_row
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - 1)::INTEGER AS search
FROM flagged SEMI JOIN several USING (file_order, theorem_name);
