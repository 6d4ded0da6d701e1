-- smsgw SQLite schema, version 1.
-- Money is INTEGER micro-units (1 unit = 1,000,000); times are POSIX seconds (REAL).

-- One row: counters every process sees. settings_version grows with each admin change
-- to an account; last_message_id is the greatest id ever accepted, compared by
-- (length(id), id) so that "9" < "10".
CREATE TABLE meta (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    settings_version INTEGER NOT NULL DEFAULT 0,
    last_message_id  TEXT
);
INSERT INTO meta (id, settings_version, last_message_id) VALUES (1, 0, NULL);

CREATE TABLE accounts (
    system_id     TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    balance       INTEGER NOT NULL DEFAULT 0,
    max_binds     INTEGER NOT NULL,
    throughput    REAL NOT NULL,
    window        INTEGER NOT NULL,
    allow_ips     TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    enabled       INTEGER NOT NULL DEFAULT 1
);

-- Keyed by the message id itself: one B-tree insert per message.
CREATE TABLE messages (
    id                  TEXT PRIMARY KEY,
    account             TEXT NOT NULL REFERENCES accounts (system_id),
    source_ton          INTEGER NOT NULL,
    source_npi          INTEGER NOT NULL,
    source_addr         TEXT NOT NULL,
    destination_ton     INTEGER NOT NULL,
    destination_npi     INTEGER NOT NULL,
    destination_addr    TEXT NOT NULL,
    body                BLOB NOT NULL,
    data_coding         INTEGER NOT NULL,
    esm_class           INTEGER NOT NULL,
    protocol_id         INTEGER NOT NULL,
    priority            INTEGER NOT NULL,
    registered_delivery INTEGER NOT NULL,
    parts               INTEGER NOT NULL,
    price               INTEGER NOT NULL,
    state               INTEGER NOT NULL,
    error_code          INTEGER NOT NULL,
    submitted_at        REAL NOT NULL,
    done_at             REAL,
    scheduled_at        REAL,
    expires_at          REAL,
    connector           TEXT NOT NULL
) WITHOUT ROWID;

-- Recovery walks the messages not yet final (SCHEDULED = 0, ENROUTE = 1) in numeric id
-- order. A partial index holds only those, so it stays as small as the traffic in flight.
CREATE INDEX messages_unfinished ON messages (length(id), id) WHERE state <= 1;

-- AUTOINCREMENT: ids are never reused, so a reader's after_id cursor never skips an item.
CREATE TABLE outbox (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    account            TEXT NOT NULL REFERENCES accounts (system_id),
    kind               TEXT NOT NULL,
    source_ton         INTEGER NOT NULL,
    source_npi         INTEGER NOT NULL,
    source_addr        TEXT NOT NULL,
    destination_ton    INTEGER NOT NULL,
    destination_npi    INTEGER NOT NULL,
    destination_addr   TEXT NOT NULL,
    body               BLOB NOT NULL,
    esm_class          INTEGER NOT NULL,
    data_coding        INTEGER NOT NULL,
    message_id         TEXT NOT NULL,
    message_state      INTEGER,
    network_error_code BLOB,
    created_at         REAL NOT NULL
);
CREATE INDEX outbox_account ON outbox (account, id);
CREATE INDEX outbox_created ON outbox (created_at);
