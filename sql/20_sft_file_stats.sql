-- sft_file_stats: the report's "Training Data Sources" line of each file: records,
-- positive records, and how the positives were classified (manifest pairing); and the
-- theorems and searches the file holds (more searches than theorems only under
-- repeated_searches = 'split_at_roots').
CREATE OR REPLACE VIEW sft_file_stats AS
WITH records AS (
    SELECT file_order, count(*) AS total, count(DISTINCT theorem_name) AS theorems,
           count(DISTINCT (theorem_name, search)) AS searches
    FROM trajectories GROUP BY ALL
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
       r.theorems, r.searches
FROM trajectory_files AS f
LEFT JOIN records AS r USING (file_order)
LEFT JOIN classified AS c USING (file_order)
ORDER BY f.file_order;
