-- explore_theorems: one row per theorem of the build -- every theorem with trajectory
-- records, and every theorem of its eval sets (which by construction has none) -- with
-- what the Theorems page shows, filters and sorts on. Computed once at start-up, so a
-- page of the table is a filtered, sorted LIMIT over some 15K rows.
--   split       'train' / 'val' (theorem_split); NULL for theorems without records
--   files       trajectory files that hold records of the theorem, in manifest order
--   searches    distinct (file, search) pairs
--   lists       eval sets and held-out lists holding the theorem, as 'eval:NAME' / 'held_out:NAME'
--   search_text lowercased name and statement, what the search box matches
CREATE OR REPLACE TABLE explore_theorems AS
WITH per_theorem AS (
    SELECT theorem_name,
           count(*) AS nodes,
           count(*) FILTER (WHERE label = 'positive') AS positives,
           count(*) FILTER (WHERE label = 'negative') AS negatives,
           bool_or(is_proof_complete) AS proved,
           count(DISTINCT (source, search)) AS searches
    FROM explore_records
    GROUP BY theorem_name
), per_file AS (
    SELECT theorem_name, list(source ORDER BY file_order) AS files
    FROM (SELECT DISTINCT theorem_name, source, file_order FROM explore_records)
    GROUP BY theorem_name
), memberships AS (
    SELECT theorem_name, list(DISTINCT kind || ':' || list ORDER BY kind || ':' || list) AS lists
    FROM explore_lists
    WHERE kind IN ('eval', 'held_out')
    GROUP BY theorem_name
), statements AS (
    -- the index's statement first, else any list's
    SELECT theorem_name, arg_min(statement, CASE kind WHEN 'index' THEN 0 ELSE 1 END) AS statement
    FROM explore_lists
    WHERE statement IS NOT NULL
    GROUP BY theorem_name
), names AS (
    SELECT theorem_name FROM per_theorem
    UNION
    SELECT theorem_name FROM explore_lists WHERE kind = 'eval'
)
SELECT n.theorem_name,
       s.split,
       coalesce(t.proved, false) AS proved,
       coalesce(f.files, []) AS files,
       len(coalesce(f.files, [])) AS n_files,
       coalesce(t.searches, 0) AS searches,
       coalesce(t.nodes, 0) AS nodes,
       coalesce(t.positives, 0) AS positives,
       coalesce(t.negatives, 0) AS negatives,
       coalesce(p.sft_pairs, 0) AS sft_pairs,
       coalesce(c.samples, 0) AS samples,
       coalesce(m.lists, []) AS lists,
       st.statement,
       lower(n.theorem_name || chr(10) || coalesce(st.statement, '')) AS search_text
FROM names AS n
LEFT JOIN per_theorem AS t USING (theorem_name)
LEFT JOIN theorem_split AS s USING (theorem_name)
LEFT JOIN per_file AS f USING (theorem_name)
LEFT JOIN explore_sft_counts AS p USING (theorem_name)
LEFT JOIN (SELECT theorem_name, count(*) AS samples FROM explore_samples GROUP BY ALL) AS c USING (theorem_name)
LEFT JOIN memberships AS m USING (theorem_name)
LEFT JOIN statements AS st USING (theorem_name)
ORDER BY n.theorem_name;

-- The Theorems page's filters, in one place for the page and its row count. Empty
-- strings switch a filter off; split 'none' selects theorems without records. Theorems
-- never searched (the eval sets') pass only with unsearched_ true.
CREATE OR REPLACE MACRO explore_theorem_filter(q, split_, proved_, file_, list_, unsearched_) AS TABLE
SELECT *
FROM explore_theorems
WHERE (unsearched_ OR searches > 0)
  AND (q = '' OR contains(search_text, lower(q)))
  AND (split_ = '' OR coalesce(split, 'none') = split_)
  AND (proved_ = '' OR proved = (proved_ = 'yes'))
  AND (file_ = '' OR list_contains(files, file_))
  AND (list_ = '' OR list_contains(lists, list_));
