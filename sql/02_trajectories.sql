-- The search trees' own verdict on each node, and the labels every later view reads.
--
-- BurnQED's writer marks `positive` only the path from a search's FIRST completed
-- record (record order) back to the root; every other node of the search is
-- `negative` with remaining_depth -1, other completed nodes and the paths to them
-- included (spec/trajectory_schema.md). Since its search replays every proof, a
-- proved search routinely holds several, so the file's labels call provable states
-- negative. The tree says otherwise, by these definitions (a node is (file, search,
-- theorem_name, state_id)):
--   provable     the node is a completed node (is_proof_complete), or one of its
--                children is provable
--   distance     0 at a completed node, else 1 + the least distance among its provable
--                children (null when not provable): steps to the nearest proof below
--   tree label   'positive' when provable or when the file labels it 'positive' (a file
--                may list a proof path without its final node); otherwise the file's
--                label stands
-- A completed node that has children is provable at distance 0 whatever lies below
-- it; its children are judged by their own subtrees (a child is not provable because
-- its parent closed the goals).
--
-- trajectory_links: every node with its parent's row in the same file (same search,
-- theorem and state id; null at a root), computed once so the walk below and the
-- preference pairs join nodes on two integers.
-- trajectory_distances: each provable node's distance, found by walking up from every
-- completed node; a walk is cut after as many steps as the deepest node is deep,
-- which no valid tree reaches (depth is the parent's + 1, so a chain of parents is at
-- most that long), so a parent chain that loops (which validation refuses) cannot make
-- the walk run without end.
CREATE OR REPLACE VIEW trajectory_links WITH (DEFER_BINDING) AS
SELECT c.file_order, c.file_row, p.file_row AS parent_row, c.is_proof_complete
FROM trajectory_records AS c
LEFT JOIN trajectory_records AS p
    ON p.file_order = c.file_order AND p.search = c.search
   AND p.theorem_name = c.theorem_name AND p.state_id = c.parent_state_id;

CREATE OR REPLACE VIEW trajectory_distances WITH (DEFER_BINDING) AS
WITH RECURSIVE links AS MATERIALIZED (
    SELECT * FROM trajectory_links
), bound AS MATERIALIZED (
    SELECT coalesce(max(depth_from_root), 0) AS steps FROM trajectory_records
), walk(file_order, file_row, parent_row, distance) AS (
    SELECT file_order, file_row, parent_row, 0 FROM links WHERE is_proof_complete
    UNION
    SELECT l.file_order, l.file_row, l.parent_row, w.distance + 1
    FROM walk AS w
    JOIN links AS l ON l.file_order = w.file_order AND l.file_row = w.parent_row
    WHERE w.distance < (SELECT steps FROM bound)
)
SELECT file_order, file_row, min(distance)::INTEGER AS distance
FROM walk
GROUP BY ALL;

-- trajectories: every input record (trajectory_records' columns) with the labels of
-- the manifest's [labels] source: 'tree' (the default) the tree labels above, and
-- remaining_depth the distance (the file's own value where the file's label alone
-- made the node positive); 'file' the file's labels and remaining_depth as they are.
-- Every view after this one reads `label` and `remaining_depth` from here, so one
-- setting moves SFT pairs, contrastive positives, negatives and siblings, the
-- false-negative rule, proof paths, statistics and the explorer together. Beside them:
--   file_label, file_remaining_depth   what the file says
--   provable, distance                 the tree's verdict, under either source
--   relabelled                         the tree made the node positive, the file did not
CREATE OR REPLACE VIEW trajectories WITH (DEFER_BINDING) AS
SELECT r.* REPLACE (
           CASE WHEN getvariable('label_source') = 'tree' AND d.distance IS NOT NULL
                THEN 'positive' ELSE r.label END AS label,
           CASE WHEN getvariable('label_source') = 'tree' AND d.distance IS NOT NULL
                THEN d.distance ELSE r.remaining_depth END AS remaining_depth),
       r.label AS file_label,
       r.remaining_depth AS file_remaining_depth,
       d.distance IS NOT NULL AS provable,
       d.distance,
       d.distance IS NOT NULL AND r.label <> 'positive' AS relabelled
FROM trajectory_records AS r
LEFT JOIN trajectory_distances AS d USING (file_order, file_row);
