-- LeanDojo Benchmark 4 JSON into base_pairs_input, read by DuckDB's JSON reader
-- (prover_data/inputs/leandojo.py load_base_pairs). Values are read as JSON so a
-- number where a string belongs is seen, not silently cast: `problems` counts what
-- breaks the reader's rules (inputs/leandojo.py leandojo_table), and only a file
-- with none is loaded; any other file goes to that reader, which names each problem.
-- A file that is not a JSON array of objects makes read_json fail: the same reader.

-- step: raw
CREATE OR REPLACE TEMP TABLE leandojo_raw AS
SELECT *
FROM read_json(getvariable('base_pairs_path'), format = 'array', records = true,
               columns = {full_name: 'JSON', file_path: 'JSON',
                          traced_tactics: 'STRUCT(tactic JSON, annotated_tactic JSON, state_before JSON, state_after JSON)[]'});

-- step: problems
SELECT count(*) FILTER (WHERE coalesce(json_type(full_name), '') <> 'VARCHAR' OR (full_name ->> '$') = ''
                           OR coalesce(json_type(file_path), '') <> 'VARCHAR' OR (file_path ->> '$') = ''
                           OR traced_tactics IS NULL)
       + (SELECT count(*)
          FROM (SELECT unnest(traced_tactics) AS t FROM leandojo_raw)
          WHERE t IS NULL
             OR coalesce(json_type(t.tactic), '') <> 'VARCHAR'
             OR coalesce(json_type(t.state_before), '') <> 'VARCHAR'
             OR coalesce(json_type(t.state_after), '') <> 'VARCHAR'
             OR coalesce(json_type(t.annotated_tactic), '') NOT IN ('VARCHAR', 'ARRAY'))
FROM leandojo_raw;

-- step: pairs
CREATE OR REPLACE TABLE base_pairs_input AS
SELECT full_name ->> '$' AS theorem_name, position::INTEGER AS tactic_index,
       t.state_before ->> '$' AS state_pp, t.tactic ->> '$' AS tactic
FROM (SELECT full_name, unnest(traced_tactics) AS t, unnest(range(len(traced_tactics))) AS position
      FROM leandojo_raw);

-- step: cleanup
DROP TABLE leandojo_raw;
