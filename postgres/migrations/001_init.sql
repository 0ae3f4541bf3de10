-- The first schema of the tickler store. {schema} is replaced by the
-- quoted schema name; see migrate.go.

-- One row per scheduled message. Ids and agent ids sort byte by byte
-- (COLLATE "C"), as Go compares strings. The columns the claim, the ack and the
-- fences read are columns; the rest of the record (message, schedule,
-- retry policy, pause instant) is the JSON document in record, in the
-- encoding named by format.
CREATE TABLE {schema}.schedules (
    id         text        COLLATE "C" PRIMARY KEY,
    agent_id   text        COLLATE "C" NOT NULL,
    format     smallint    NOT NULL,
    record     json        NOT NULL,
    next_at    timestamptz,
    version    bigint      NOT NULL,
    hist_seq   bigint      NOT NULL DEFAULT 0,
    owner      uuid,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Claim reads this index in (next_at, id) order.
CREATE INDEX schedules_due ON {schema}.schedules (next_at, id) WHERE next_at IS NOT NULL;
-- Claim reports records of a format this release cannot read from this
-- index, without scanning the window for them.
CREATE INDEX schedules_due_other_format ON {schema}.schedules (next_at, id) WHERE next_at IS NOT NULL AND format <> 1;
-- List pages and Count reads an agent's records in id order.
CREATE INDEX schedules_agent ON {schema}.schedules (agent_id, id);

-- Outcomes of a record, seq 1, 2, ... (schedules.hist_seq is the newest).
-- json, not jsonb: an outcome's response reads back byte for byte.
CREATE TABLE {schema}.history (
    schedule_id text   COLLATE "C" NOT NULL REFERENCES {schema}.schedules (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    outcome     json   NOT NULL,
    PRIMARY KEY (schedule_id, seq)
);

-- The nodes sharing the store, each with a lease on the database clock.
-- A schedules.owner naming a node whose lease lapsed, or no node at all,
-- owns nothing.
CREATE TABLE {schema}.nodes (
    id          uuid        PRIMARY KEY,
    lease_until timestamptz NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now()
);
