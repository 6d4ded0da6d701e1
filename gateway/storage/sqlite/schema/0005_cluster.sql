-- smsgw SQLite schema, version 5: several gateway processes on one store (ClusterStore).
-- A SQLite file serves one machine; the same tables let a restarted gateway adopt what
-- the previous run left unfinished, exactly as PostgreSQL nodes take over a dead node.

-- One row per run of a gateway process (an owner). Owner 0 stands for every message
-- accepted before this version: it has left, so the first gateway to start adopts them.
CREATE TABLE nodes (
    owner        INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id      INTEGER NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    taken_by     INTEGER,            -- the owner taking this one's work over
    left_at      REAL                -- a clean stop
);
INSERT INTO nodes (owner, node_id, started_at, heartbeat_at, left_at) VALUES (0, -1, 0, 0, 0);

-- Who dispatches a message until it is final; the partial index holds only unfinished
-- messages (SCHEDULED = 0, ENROUTE = 1), by owner in numeric id order, for adoption.
ALTER TABLE messages ADD COLUMN owner INTEGER NOT NULL DEFAULT 0;
DROP INDEX messages_unfinished;
CREATE INDEX messages_unfinished ON messages (owner, length(id), id) WHERE state <= 1;

-- The owner pushing an item; NULL while it waits for a node to claim it.
ALTER TABLE outbox ADD COLUMN claimed_by INTEGER;
CREATE INDEX outbox_claimed ON outbox (claimed_by) WHERE claimed_by IS NOT NULL;
ALTER TABLE webhook_outbox ADD COLUMN claimed_by INTEGER;
CREATE INDEX webhook_outbox_claimed ON webhook_outbox (claimed_by) WHERE claimed_by IS NOT NULL;

-- Live binds of every owner, so max_binds counts them all.
CREATE TABLE binds (
    owner   INTEGER NOT NULL,
    bind_id INTEGER NOT NULL,
    account TEXT NOT NULL,
    kind    TEXT NOT NULL,
    since   REAL NOT NULL,
    PRIMARY KEY (owner, bind_id)
) WITHOUT ROWID;
CREATE INDEX binds_account ON binds (account);
