-- One page of the Theorems table: the filters of explore_theorem_filter, sorted by the
-- column named $sort ($descending flips it; ties by name), LIMIT/OFFSET. Sort keys are
-- chosen by CASE over fixed column names, so the request's value is only ever a
-- parameter: an unknown $sort sorts by name.
SELECT theorem_name, split, proved, files, searches, nodes, positives, negatives, sft_pairs, samples, lists,
       statement
FROM explore_theorem_filter($q, $split, $proved, $file, $list, $unsearched)
ORDER BY
    CASE WHEN NOT $descending THEN
        CASE $sort WHEN 'proved' THEN proved::BIGINT WHEN 'files' THEN n_files WHEN 'searches' THEN searches
                   WHEN 'nodes' THEN nodes WHEN 'positives' THEN positives WHEN 'negatives' THEN negatives
                   WHEN 'sft_pairs' THEN sft_pairs WHEN 'samples' THEN samples END
    END ASC NULLS LAST,
    CASE WHEN $descending THEN
        CASE $sort WHEN 'proved' THEN proved::BIGINT WHEN 'files' THEN n_files WHEN 'searches' THEN searches
                   WHEN 'nodes' THEN nodes WHEN 'positives' THEN positives WHEN 'negatives' THEN negatives
                   WHEN 'sft_pairs' THEN sft_pairs WHEN 'samples' THEN samples END
    END DESC NULLS LAST,
    CASE WHEN $sort = 'split' AND NOT $descending THEN split END ASC NULLS LAST,
    CASE WHEN $sort = 'split' AND $descending THEN split END DESC NULLS LAST,
    CASE WHEN $descending AND $sort NOT IN ('proved', 'files', 'searches', 'nodes', 'positives', 'negatives',
                                              'sft_pairs', 'samples', 'split')
         THEN theorem_name END DESC,
    theorem_name ASC
LIMIT $limit OFFSET $offset;
