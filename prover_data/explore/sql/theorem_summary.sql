-- One theorem's row of the Theorems table (none when the build does not have it).
SELECT * EXCLUDE (search_text) FROM explore_theorems WHERE theorem_name = $theorem;
