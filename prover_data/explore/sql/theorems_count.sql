-- How many theorems pass the Theorems page's filters (for its pager), and how many more
-- would if those never searched were shown (for the note that offers them).
SELECT count(*) FILTER (WHERE $unsearched OR searches > 0) AS shown,
       count(*) FILTER (WHERE NOT $unsearched AND searches = 0) AS hidden
FROM explore_theorem_filter($q, $split, $proved, $file, $list, true);
