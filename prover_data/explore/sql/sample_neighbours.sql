-- The ids of the samples before and after $sample_id in its split, for the page's links.
SELECT max(sample_id) FILTER (WHERE sample_id < $sample_id) AS previous,
       min(sample_id) FILTER (WHERE sample_id > $sample_id) AS next
FROM explore_samples
WHERE split = $split;
