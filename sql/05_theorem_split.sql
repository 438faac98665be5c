-- theorem_split: each theorem of the trajectories and its split.
-- bucket = first 32 bits of MD5('<seed>:<theorem_name>') / (2^32 - 1), exactly
-- identity.split_bucket; val when bucket < val_fraction. A theorem's split depends on
-- its name and the seed only: adding or reordering files never moves a theorem.
CREATE OR REPLACE VIEW theorem_split AS
WITH names AS (SELECT DISTINCT theorem_name FROM trajectories)
SELECT
    theorem_name,
    ('0x' || left(md5(getvariable('split_seed') || ':' || theorem_name), 8))::UBIGINT
        / 4294967295.0 AS bucket,
    CASE WHEN bucket < getvariable('val_fraction') THEN 'val' ELSE 'train' END AS split
FROM names;
