-- smsgw SQLite schema, version 3: webhooks, the numbers MO arrives on, MO reassembly.
-- Numbered before 0004 but added after it: files already at 0004 get it too (see
-- sqlite_ops.migrate), so it must not depend on 0004, nor 0004 on it.

-- How an account's receipts and MO reach it (model.Account): its webhook URL and signing
-- secret, and deliver_via ('auto', 'smpp' or 'both': model.DeliverVia's values).
ALTER TABLE accounts ADD COLUMN webhook_url TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN deliver_via TEXT NOT NULL DEFAULT 'auto';

-- The WEBHOOK leg of the fan-out: one row per event and URL until the URL answers 2xx.
-- `payload` is the JSON document (core/events.py), fixed when the event was made so every
-- retry sends the same bytes; receivers de-duplicate by `event_id`. A failed attempt
-- counts in `attempts` and moves `next_attempt_at`; an item given up gets `dead_at` and
-- stays (a dead letter) until an admin replays it. AUTOINCREMENT, like outbox: ids are
-- never reused, and a run of inserts gets consecutive ids (sqlite_outbox.queue_rows).
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account         TEXT NOT NULL REFERENCES accounts (system_id),
    kind            TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    url             TEXT NOT NULL,
    event_id        TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    created_at      REAL NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    dead_at         REAL
);
-- The dispatcher's query: live items by due time. Partial, so it holds only live items.
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, id) WHERE dead_at IS NULL;
CREATE INDEX webhook_outbox_account ON webhook_outbox (account, id);
-- Dead letters are few: listing, counting and replaying them must not scan the live ones.
CREATE INDEX webhook_outbox_dead ON webhook_outbox (id) WHERE dead_at IS NOT NULL;

-- Numbers (long numbers, short codes) accounts own for MO, kept normalized
-- (core/numbers.py); keyword '' is the number's entry for any text.
CREATE TABLE numbers (
    number  TEXT NOT NULL,
    keyword TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL REFERENCES accounts (system_id),
    PRIMARY KEY (number, keyword)
) WITHOUT ROWID;
CREATE INDEX numbers_account ON numbers (account, number, keyword);

-- Parts of concatenated MO held until their message is whole (model.InboundPart), by
-- the number they are addressed to: the account is chosen when the message is whole. A
-- group is (source_addr, destination_addr, ref, total); the UNIQUE key holds a part that
-- arrives twice once, and finds a group's parts in seq order.
CREATE TABLE inbound_parts (
    id               TEXT PRIMARY KEY,
    source_ton       INTEGER NOT NULL,
    source_npi       INTEGER NOT NULL,
    source_addr      TEXT NOT NULL,
    destination_ton  INTEGER NOT NULL,
    destination_npi  INTEGER NOT NULL,
    destination_addr TEXT NOT NULL,
    ref              INTEGER NOT NULL,
    total            INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    body             BLOB NOT NULL,
    data_coding      INTEGER NOT NULL,
    connector        TEXT NOT NULL,
    received_at      REAL NOT NULL,
    UNIQUE (source_addr, destination_addr, ref, total, seq)
) WITHOUT ROWID;
