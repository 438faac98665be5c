-- The eval sets and held-out lists a theorem can belong to, as the Theorems page's
-- list filter names them ('eval:NAME', 'held_out:NAME').
SELECT DISTINCT kind || ':' || list AS name
FROM explore_lists
WHERE kind <> 'index'
ORDER BY name;
