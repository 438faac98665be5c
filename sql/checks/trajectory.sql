-- Structural checks of one trajectory parquet file (the search tree), run by
-- prover_data/sources.py. Per-value checks (nulls, labels, UTF-8, ranges, NaN) are
-- vectorized Arrow there; what needs joins between rows is here.
--
-- Input tables:
--   nodes(row, theorem, state_id, parent_state_id, depth_from_root)
--       one row per file row; `row` is the 0-based file row, `theorem` an integer
--       code of theorem_name (rows with a null name or id take part in no join)
--   theorems(code, name)   the theorem names, for messages
-- Each `check` block returns the offending rows (`row`) and `found`: what is wrong
-- with the row, shown for the first one. A block's `column` and `message` are what
-- the user reads.

-- setup
-- The node a (theorem, state_id) pair names: its first row, if the pair repeats.
CREATE OR REPLACE TEMP TABLE node_index AS
SELECT theorem, state_id, min(row) AS first_row, arg_min(depth_from_root, row) AS depth
FROM nodes
WHERE theorem IS NOT NULL AND state_id IS NOT NULL
GROUP BY ALL;

-- setup
-- Every node with the row and depth of the parent it names (null when none is found).
CREATE OR REPLACE TEMP TABLE links AS
SELECT n.row, n.theorem, n.state_id, n.parent_state_id, n.depth_from_root,
       p.first_row AS parent_row, p.depth AS parent_depth
FROM nodes n
LEFT JOIN node_index p ON p.theorem = n.theorem AND p.state_id = n.parent_state_id;

-- check: duplicate_node
-- column: state_id
-- message: duplicate (theorem_name, state_id): node ids must be unique within one theorem's search
SELECT n.row, t.name || ' #' || n.state_id || ' (first at row ' || i.first_row || ')' AS found
FROM nodes n
JOIN node_index i ON i.theorem = n.theorem AND i.state_id = n.state_id
JOIN theorems t ON t.code = n.theorem
WHERE n.row > i.first_row;

-- check: root_with_parent
-- column: parent_state_id
-- message: a root (depth_from_root 0) must have a null parent_state_id
SELECT row, 'parent ' || parent_state_id AS found
FROM links
WHERE depth_from_root = 0 AND parent_state_id IS NOT NULL;

-- check: orphan
-- column: parent_state_id
-- message: null parent_state_id below the root (only a root, at depth_from_root 0, has no parent)
SELECT row, 'depth ' || depth_from_root AS found
FROM links
WHERE depth_from_root <> 0 AND parent_state_id IS NULL;

-- check: missing_parent
-- column: parent_state_id
-- message: parent_state_id names no node of the same theorem in this file
SELECT l.row, t.name || ' #' || l.parent_state_id AS found
FROM links l JOIN theorems t ON t.code = l.theorem
WHERE l.parent_state_id IS NOT NULL AND l.parent_row IS NULL;

-- check: depth_mismatch
-- column: depth_from_root
-- message: depth_from_root is not its parent's depth + 1
SELECT row, depth_from_root || ' (parent at row ' || parent_row || ' has depth ' || parent_depth || ')' AS found
FROM links
WHERE parent_row IS NOT NULL AND depth_from_root <> parent_depth + 1;
