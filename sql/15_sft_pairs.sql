-- trajectory_pairs: the usable pairs of the manifest's pairing, with their split.
CREATE OR REPLACE VIEW trajectory_pairs WITH (DEFER_BINDING) AS
SELECT
    c.theorem_name,
    c.source,
    c.file_order,
    c.state AS state_pp,
    c.tactic,
    c.state_hash,
    c.depth,
    s.split
FROM sft_status AS c
JOIN theorem_split AS s USING (theorem_name)
WHERE c.status = 'usable';
