-- The callback outbox (tickler.CallbackOutbox): a callback is inserted by
-- the statement of the ack that ends its occurrence, so it is committed
-- with the ack or not at all. It has no foreign key to schedules: a
-- callback outlives its schedule (a one-time schedule is removed by the
-- ack that writes its callback). hist_seq names the history entry the ack
-- appended (outcome_id), where FinishCallback records how it ended.
CREATE TABLE {schema}.callbacks (
    id           text        COLLATE "C" PRIMARY KEY,
    schedule_id  text        COLLATE "C" NOT NULL,
    outcome_id   text,
    hist_seq     bigint,
    url          text        NOT NULL,
    key          text        NOT NULL,
    -- The body to POST, byte for byte.
    payload      bytea       NOT NULL,
    attempts     int         NOT NULL DEFAULT 0,
    -- When it is due: now for a new one, the end of its lease once
    -- claimed, the end of its backoff for a retry.
    next_attempt timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- ClaimCallbacks reads this index in (next_attempt, id) order.
CREATE INDEX callbacks_due ON {schema}.callbacks (next_attempt, id);
