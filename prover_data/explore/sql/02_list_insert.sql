-- One theorem-list JSON file ({"theorems": [{"name", "statement"}]}) into explore_lists.
-- The column types are given, so a list without statements reads them as NULL.
INSERT INTO explore_lists
SELECT $kind, $list, t.name, t.statement
FROM (
    SELECT unnest(theorems) AS t
    FROM read_json($path, columns = {theorems: 'STRUCT(name VARCHAR, statement VARCHAR)[]'},
                   maximum_object_size = 1073741824)
)
WHERE t.name IS NOT NULL;
