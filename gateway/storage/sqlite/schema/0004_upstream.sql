-- smsgw SQLite schema, version 4: upstream SMPP connectors, routes and receipt correlation.

-- Connectors managed at run time (CLI, admin API). `settings` is the JSON of
-- core/upstream.ConnectorSettings; a change bumps meta.settings_version so the running
-- gateway picks it up.
CREATE TABLE connectors (
    name     TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    enabled  INTEGER NOT NULL DEFAULT 1
);

-- The route table: longest destination prefix wins; account/source filters are optional
-- ('' = any). `targets` is a JSON array of [connector, weight].
CREATE TABLE routes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    prefix        TEXT NOT NULL,
    account       TEXT NOT NULL DEFAULT '',
    source_prefix TEXT NOT NULL DEFAULT '',
    targets       TEXT NOT NULL
);

-- One row per message handed to an upstream SMPP connector. status: 'submitting' (the
-- durable mark written before the submit_sm leaves: if the answer never comes, we know
-- the outcome is unknown and must not blindly send again), 'submitted' (the upstream
-- answered ESME_ROK with upstream_id). `refunded` guards against refunding twice.
CREATE TABLE upstream_messages (
    message_id  TEXT PRIMARY KEY,
    connector   TEXT NOT NULL,
    status      TEXT NOT NULL,
    upstream_id TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    refunded    INTEGER NOT NULL DEFAULT 0,
    updated_at  REAL NOT NULL
) WITHOUT ROWID;

-- The keys under which an upstream id is matched by a receipt (see core/upstream_ids.py):
-- the id as text without case or leading zeros, and its numeric value read as decimal
-- and/or as hex, so a receipt quoting the id in the other base still finds it.
CREATE TABLE upstream_keys (
    connector  TEXT NOT NULL,
    key        TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (connector, key, message_id)
) WITHOUT ROWID;

-- Health snapshots the gateway writes every few seconds, for `smsgw connector list`.
CREATE TABLE connector_health (
    name       TEXT PRIMARY KEY,
    health     TEXT NOT NULL,
    updated_at REAL NOT NULL
);
