-- The trajectories a build has loaded, as the `nodes` and `theorems` that the tree rules
-- of checks/trajectory.sql read, one file at a time (getvariable('check_file')): the
-- rules' working tables stay the size of a file, as when the file is validated alone.
CREATE OR REPLACE TEMP VIEW nodes AS
SELECT file_order AS file, file_row AS row, theorem_name AS theorem, state_id, parent_state_id, depth_from_root
FROM trajectory_records
WHERE file_order = getvariable('check_file');

CREATE OR REPLACE TEMP VIEW theorems AS
SELECT DISTINCT theorem AS code, theorem AS name FROM nodes;
