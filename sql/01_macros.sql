-- Helpers shared by the views (macros, not views).
--
-- py_strip(s): strip leading/trailing whitespace exactly as Python's str.strip() does
--   (BurnQED's loader strips with it; DuckDB's trim() only removes spaces): every
--   character with str.isspace(), i.e. \t \n \v \f \r \x1c-\x1f, U+0085 and the Unicode
--   separators \p{Z}. Strings that start and end with printable ASCII skip the regex.
-- theorem_bucket(name): identity.split_bucket(split_seed, name), a number in [0, 1].
-- draw(key): a deterministic 60-bit number from a text key; every seeded choice in
--   these views is draw(seed || ':' || what || ':' || ...) modulo a pool size, so a
--   choice depends on content and seed only, never on row order or DuckDB's hash().
CREATE OR REPLACE MACRO py_strip(s) AS
    CASE WHEN ord(left(s, 1)) BETWEEN 33 AND 126 AND ord(right(s, 1)) BETWEEN 33 AND 126 THEN s
         ELSE regexp_replace(s, '^[\t\n\x{0b}\f\r \x{1c}-\x{1f}\x{85}\p{Z}]+|[\t\n\x{0b}\f\r \x{1c}-\x{1f}\x{85}\p{Z}]+$', '', 'g')
    END;

CREATE OR REPLACE MACRO theorem_bucket(name) AS
    ('0x' || left(md5(getvariable('split_seed') || ':' || name), 8))::UBIGINT / 4294967295.0;

CREATE OR REPLACE MACRO draw(key) AS
    ('0x' || left(md5(key), 15))::UBIGINT;
