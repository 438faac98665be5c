-- Structural checks of trajectory parquet files (the search trees): of one file by
-- prover_data/inputs/trajectories.py, which also checks each value (nulls, labels,
-- UTF-8, ranges, NaN) with Arrow; of every file of a build at once by
-- prover_data/build/inputs.py, over the table the views read, with the values checked
-- by checks/trajectory_values.sql. What needs joins between rows is here.
-- A theorem may have several roots in a file under either [sources] repeated_searches
-- setting (each root starts a search, numbered by search_numbers of macros.sql); under
-- "refuse" the one ambiguous case is refused: a state_id repeated by a later search.
--
-- Input tables:
--   nodes(file, row, theorem, state_id, parent_state_id, depth_from_root)
--       one row per file row; `file` numbers the files checked, `row` is the 0-based
--       file row, `theorem` a code of theorem_name (rows with a null name or id take
--       part in no join)
--   theorems(code, name)   the theorem names, for messages
-- Each `check` block returns the offending rows (`file`, `row`) and `found`: what is
-- wrong with the row, shown for the first one. A block's `column` and `message` are what
-- the user reads; a block with `-- when: refuse` runs only under
-- [sources] repeated_searches = "refuse".

-- setup
-- Each row's search, numbered by search_numbers (macros.sql) as trajectory_records
-- numbers the records, with `is_root`; the macro reads the records' column names.
CREATE OR REPLACE TEMP TABLE searched AS
WITH named AS (
    SELECT file AS file_order, theorem AS theorem_name, row AS file_row, * EXCLUDE (file, theorem, row) FROM nodes
)
SELECT file_order AS file, theorem_name AS theorem, file_row AS row, * EXCLUDE (file_order, theorem_name, file_row)
FROM search_numbers(named);

-- setup
-- Where each search starts, for messages.
CREATE OR REPLACE TEMP TABLE search_roots AS
SELECT file, theorem, search, min(row) AS root_row FROM searched WHERE is_root GROUP BY ALL;

-- setup
-- The node a (theorem, search, state_id) triple names: its first row, if it repeats
-- (`rows` > 1: a duplicate id).
CREATE OR REPLACE TEMP TABLE node_index AS
SELECT file, theorem, search, state_id, min(row) AS first_row, arg_min(depth_from_root, row) AS depth,
       count(*) AS rows
FROM searched
WHERE theorem IS NOT NULL AND state_id IS NOT NULL
GROUP BY ALL;

-- setup
-- Every node with the row and depth of the parent it names (null when none is found).
CREATE OR REPLACE TEMP TABLE links AS
SELECT n.file, n.row, n.theorem, n.search, n.state_id, n.parent_state_id, n.depth_from_root,
       p.first_row AS parent_row, p.depth AS parent_depth
FROM searched n
LEFT JOIN node_index p
  ON p.file = n.file AND p.theorem = n.theorem AND p.search = n.search AND p.state_id = n.parent_state_id;

-- check: repeated_search
-- when: refuse
-- column: state_id
-- message: a state_id that an earlier search of its theorem in this file also has: the file holds repeated searches that restart their ids, so a parent id could name a node of either (to read each root as a new search, set [sources] repeated_searches = "split_at_roots"; validate --repeated-searches split_at_roots)
SELECT s.file, s.row,
       t.name || ' #' || s.state_id || ' (also at row ' || i.first_row || ', in the search from row ' || r.root_row || ')' AS found
FROM searched s
JOIN (SELECT file, theorem, state_id, min(row) AS first_row, arg_min(search, row) AS first_search
      FROM searched WHERE theorem IS NOT NULL AND state_id IS NOT NULL
      GROUP BY ALL HAVING count(DISTINCT search) > 1) i
  ON i.file = s.file AND i.theorem = s.theorem AND i.state_id = s.state_id
JOIN search_roots r ON r.file = s.file AND r.theorem = s.theorem AND r.search = i.first_search
JOIN theorems t ON t.code = s.theorem
WHERE s.search <> i.first_search;

-- check: before_first_root
-- column: parent_state_id
-- message: a row above the first root of its theorem, which has several searches in this file: each search's rows must follow its root
SELECT s.file, s.row, t.name || ' #' || s.state_id || ' (first root at row ' || r.root_row || ')' AS found
FROM searched s
JOIN search_roots r ON r.file = s.file AND r.theorem = s.theorem AND r.search = 0
JOIN theorems t ON t.code = s.theorem
WHERE s.search < 0;

-- check: duplicate_node
-- column: state_id
-- message: duplicate (theorem_name, state_id): node ids must be unique within one search of a theorem
SELECT n.file, n.row, t.name || ' #' || n.state_id || ' (first at row ' || i.first_row || ')' AS found
FROM searched n
JOIN (SELECT * FROM node_index WHERE rows > 1) i
  ON i.file = n.file AND i.theorem = n.theorem AND i.search = n.search AND i.state_id = n.state_id
JOIN theorems t ON t.code = n.theorem
WHERE n.row > i.first_row;

-- check: root_with_parent
-- column: parent_state_id
-- message: a root (depth_from_root 0) must have a null parent_state_id
SELECT file, row, 'parent ' || parent_state_id AS found
FROM links
WHERE depth_from_root = 0 AND parent_state_id IS NOT NULL;

-- check: orphan
-- column: parent_state_id
-- message: null parent_state_id below the root (only a root, at depth_from_root 0, has no parent)
SELECT file, row, 'depth ' || depth_from_root AS found
FROM links
WHERE depth_from_root <> 0 AND parent_state_id IS NULL;

-- check: missing_parent
-- column: parent_state_id
-- message: parent_state_id names no node of the same theorem (and search) in this file
SELECT l.file, l.row, t.name || ' #' || l.parent_state_id AS found
FROM links l JOIN theorems t ON t.code = l.theorem
WHERE l.parent_state_id IS NOT NULL AND l.parent_row IS NULL AND l.search >= 0;

-- check: depth_mismatch
-- column: depth_from_root
-- message: depth_from_root is not its parent's depth + 1
SELECT file, row, depth_from_root || ' (parent at row ' || parent_row || ' has depth ' || parent_depth || ')' AS found
FROM links
WHERE parent_row IS NOT NULL AND depth_from_root <> parent_depth + 1;
