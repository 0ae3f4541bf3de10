-- Delivery slots per agent, so that tickler.WithAgentConcurrency holds
-- across nodes: a node holds one of an agent's slots while it delivers to
-- the agent. A slot whose owner's lease lapsed, or held past held_until
-- (a release that never came), is free.
CREATE TABLE {schema}.agent_slots (
    agent_id   text        COLLATE "C" NOT NULL,
    slot       int         NOT NULL,
    owner      uuid        NOT NULL,
    held_until timestamptz NOT NULL,
    PRIMARY KEY (agent_id, slot)
);
