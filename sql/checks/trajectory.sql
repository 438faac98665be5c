-- Row-level checks of one trajectory parquet file, run by prover_data/sources.py over
-- the file's rows (table `rows`, with a 0-based `row` column). Each block names the
-- column it is about and the message a user sees; its query returns the offending rows
-- (`row`, and `found`: the offending value, shown for the first one).

-- check: null
-- column: {column}
-- message: null value (only parent_state_id may be null, and only at a root)
SELECT row, NULL AS found FROM rows WHERE "{column}" IS NULL;

-- check: label
-- column: label
-- message: unknown label (expected positive, negative or unknown)
SELECT row, label AS found FROM rows WHERE label NOT IN ('positive', 'negative', 'unknown');

-- check: duplicate_state_id
-- column: state_id
-- message: duplicate (theorem_name, state_id): node ids must be unique within one theorem's search
SELECT row, theorem_name || ' #' || state_id AS found
FROM (SELECT row, theorem_name, state_id,
             count(*) OVER (PARTITION BY theorem_name, state_id) AS n FROM rows)
WHERE n > 1;

-- check: root_parent
-- column: parent_state_id
-- message: parent_state_id must be null exactly at roots (depth_from_root = 0)
SELECT row, 'depth ' || depth_from_root || ', parent ' || coalesce(parent_state_id::VARCHAR, 'null') AS found
FROM rows WHERE (parent_state_id IS NULL) <> (depth_from_root = 0);

-- check: missing_parent
-- column: parent_state_id
-- message: parent_state_id names no node of the same theorem in this file
SELECT c.row, c.theorem_name || ' #' || c.parent_state_id AS found
FROM rows c ANTI JOIN (SELECT DISTINCT theorem_name, state_id FROM rows) p
  ON p.theorem_name = c.theorem_name AND p.state_id = c.parent_state_id
WHERE c.parent_state_id IS NOT NULL;

-- check: depth
-- column: depth_from_root
-- message: depth_from_root is not its parent's depth + 1
SELECT c.row, c.depth_from_root || ' (parent at ' || p.depth_from_root || ')' AS found
FROM rows c JOIN (SELECT theorem_name, state_id, any_value(depth_from_root) AS depth_from_root
                  FROM rows GROUP BY ALL) p
  ON p.theorem_name = c.theorem_name AND p.state_id = c.parent_state_id
WHERE c.depth_from_root <> p.depth_from_root + 1;

-- check: cycle
-- column: parent_state_id
-- message: parent links form a cycle (the node never reaches a root)
WITH RECURSIVE reach(theorem_name, state_id) AS (
    SELECT theorem_name, state_id FROM rows WHERE parent_state_id IS NULL
    UNION
    SELECT c.theorem_name, c.state_id
    FROM rows c JOIN reach r ON c.theorem_name = r.theorem_name AND c.parent_state_id = r.state_id
)
SELECT c.row, c.theorem_name || ' #' || c.state_id AS found
FROM rows c
WHERE c.parent_state_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM rows p WHERE p.theorem_name = c.theorem_name AND p.state_id = c.parent_state_id)
  AND NOT EXISTS (SELECT 1 FROM reach r WHERE r.theorem_name = c.theorem_name AND r.state_id = c.state_id);

-- check: remaining_depth
-- column: remaining_depth
-- message: remaining_depth below -1 (-1 means unknown or off the proof path)
SELECT row, remaining_depth AS found FROM rows WHERE remaining_depth < -1;

-- check: not_finite
-- column: {column}
-- message: not a finite number
SELECT row, "{column}" AS found FROM rows WHERE NOT isfinite("{column}");

-- check: huge_text
-- column: {column}
-- message: text longer than {limit} bytes (a pretty-printer runaway?)
SELECT row, strlen("{column}") || ' bytes' AS found FROM rows WHERE strlen("{column}") > {limit};

-- check: empty_theorem
-- column: theorem_name
-- message: empty theorem name
SELECT row, NULL AS found FROM rows WHERE theorem_name = '';

-- check: negative
-- column: {column}
-- message: negative value (expected an unsigned integer)
SELECT row, "{column}" AS found FROM rows WHERE "{column}" < 0;
