-- The size of each record as tickler.RecordSize measures it (its message
-- as JSON plus its labels), so that tickler.CreateParams.MaxBytesPerAgent
-- sums an agent's rows under the advisory lock Create takes on the agent.
-- Create and Update set it. Existing rows get theirs from the record: its
-- "message" member is, byte for byte, the JSON of the message (json, not
-- jsonb, keeps the text as written), and ->> reads each label back as the
-- string it was. A row written later by a release before this migration
-- (during a rolling upgrade) has size 0 and counts nothing.
ALTER TABLE {schema}.schedules ADD COLUMN size bigint NOT NULL DEFAULT 0;

UPDATE {schema}.schedules SET size =
    octet_length((record -> 'message')::text)
    + coalesce(octet_length(record ->> 'name'), 0)
    + coalesce(octet_length(record ->> 'description'), 0)
    + coalesce(octet_length(record ->> 'conversation_id'), 0)
WHERE format = 1;
