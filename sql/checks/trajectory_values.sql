-- The value rules of trajectory files (prover_data/inputs/trajectories.py, which states
-- them and names each break), counted per file over the trajectories a build has loaded
-- (the `trajectory_records` view, materialized). A build checks this and
-- checks/trajectory.sql in the scan that feeds its views; a file with any count goes
-- to the Python validator for the report. Values DuckDB cannot read as the view's
-- types (invalid UTF-8, a negative id or depth, visits outside 32 bits) already failed the
-- load, which sends every file there too. tests/bad_inputs.py holds the cases on either
-- side of each rule that keep this file and the validator equal.
SELECT file_order AS file,
       count(*) FILTER (
           WHERE theorem_name IS NULL OR state_id IS NULL OR state_pp IS NULL OR tactic_applied IS NULL
              OR label IS NULL OR depth_from_root IS NULL OR remaining_depth IS NULL OR llm_log_prob IS NULL
              OR ebm_score IS NULL OR is_proof_complete IS NULL OR timestamp_ms IS NULL OR q_value IS NULL
              OR visits IS NULL
              OR label NOT IN ('positive', 'negative', 'unknown')
              OR theorem_name = ''
              OR strlen(state_pp) > getvariable('max_text_bytes')
              OR strlen(tactic_applied) > getvariable('max_text_bytes')
              OR remaining_depth < -1
              OR NOT isfinite(llm_log_prob) OR NOT isfinite(ebm_score) OR NOT isfinite(q_value)
              OR timestamp_ms < 0
       ) AS problems
FROM trajectory_records
WHERE file_order NOT IN (SELECT unnest(getvariable('files_known_valid')))
GROUP BY ALL;
