-- How many theorems pass the Theorems page's filters (for its pager).
SELECT count(*) FROM explore_theorem_filter($q, $split, $proved, $file, $list);
