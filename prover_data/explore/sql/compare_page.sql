-- The comparison's counts per category, and the first $per_category theorems of each.
SELECT category, count(*) AS theorems, list(theorem_name ORDER BY theorem_name)[1:$per_category] AS names
FROM explore_compare
GROUP BY category
ORDER BY category;
