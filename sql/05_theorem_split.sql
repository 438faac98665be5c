-- theorem_split: each theorem of the trajectories and its split.
-- bucket = first 32 bits of MD5('<seed>:<theorem_name>') / (2^32 - 1), exactly
-- identity.split_bucket; val when bucket < val_fraction. A theorem's split depends on
-- its name and the seed only: adding or reordering files never moves a theorem, and
-- base tactic pairs of the same theorem land in the same split.
-- (BurnQED split its SFT trajectory examples by a random 10% of *examples*, which lets
-- one theorem sit in train and val; its EBM split was by theorem, as here.)
CREATE OR REPLACE VIEW theorem_split WITH (DEFER_BINDING) AS
WITH names AS (SELECT DISTINCT theorem_name FROM trajectories)
SELECT
    theorem_name,
    theorem_bucket(theorem_name) AS bucket,
    CASE WHEN bucket < getvariable('val_fraction') THEN 'val' ELSE 'train' END AS split
FROM names;
