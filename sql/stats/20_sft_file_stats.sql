-- sft_file_stats: the report's "Training Data Sources" line of each file: records,
-- positive records, and how the positives were classified (manifest pairing); the
-- theorems and searches the file holds, the theorems it searched more than once
-- (several roots: more searches than theorems), and whether it has BurnQED's 14-column
-- schema (search_values: false for a 12-column file, read with q_value = visits = 0).
CREATE OR REPLACE VIEW sft_file_stats WITH (DEFER_BINDING) AS
WITH searches AS (
    SELECT file_order, theorem_name, count(DISTINCT search) AS n
    FROM trajectories GROUP BY ALL
), records AS (
    SELECT file_order, count(*) AS total FROM trajectories GROUP BY ALL
), theorems AS (
    SELECT file_order, count(*) AS theorems, sum(n)::BIGINT AS searches,
           count(*) FILTER (WHERE n > 1) AS repeated_theorems
    FROM searches GROUP BY ALL
), classified AS (
    SELECT file_order,
           count(*) AS positive,
           count(*) FILTER (WHERE status = 'usable') AS usable,
           count(*) FILTER (WHERE status = 'empty') AS empty,
           count(*) FILTER (WHERE status = 'sorry') AS sorry,
           count(*) FILTER (WHERE status = 'dup') AS dup
    FROM sft_status
    GROUP BY ALL
)
SELECT f.file_order, f.source, r.total,
       coalesce(c.positive, 0) AS positive, coalesce(c.usable, 0) AS usable,
       coalesce(c.empty, 0) AS empty, coalesce(c.sorry, 0) AS sorry, coalesce(c.dup, 0) AS dup,
       t.theorems, t.searches, t.repeated_theorems, f.search_values
FROM trajectory_files AS f
LEFT JOIN records AS r USING (file_order)
LEFT JOIN theorems AS t USING (file_order)
LEFT JOIN classified AS c USING (file_order)
ORDER BY f.file_order;
