-- smsgw SQLite schema, version 2: what the HTTP API needs.
-- Account-linked settings live in tables of their own (the accounts table is unchanged).

-- What an HTTP submit asked for, kept with the message: where its receipt goes over
-- HTTP instead of the account's webhook, and the customer's own reference.
ALTER TABLE messages ADD COLUMN callback_url TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN client_ref TEXT NOT NULL DEFAULT '';

-- Bearer API keys: only the SHA-256 of the key is stored (the key is 32 random bytes, so a
-- fast hash is enough); `prefix` is the key's first characters, shown to tell keys apart.
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account    TEXT NOT NULL REFERENCES accounts (system_id),
    key_hash   TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    label      TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE INDEX api_keys_account ON api_keys (account, id);

-- Price per SMS part by destination prefix (digits; '' matches every destination).
-- account '*' is the table every account falls back to; the longest matching prefix of
-- the account's own table wins, then of '*', then the configured price_per_part.
CREATE TABLE prices (
    account TEXT NOT NULL,
    prefix  TEXT NOT NULL,
    price   INTEGER NOT NULL,          -- micro-units, like balances
    PRIMARY KEY (account, prefix)
) WITHOUT ROWID;

-- Idempotency-Key: the first result of a submit, written in the accept's transaction.
-- `fingerprint` is a hash of the request, so the same key with another request is refused.
CREATE TABLE idempotency (
    account     TEXT NOT NULL REFERENCES accounts (system_id),
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    result      TEXT NOT NULL,          -- as the API answered it (JSON)
    balance     INTEGER NOT NULL,       -- the balance right after the accept, micro-units
    created_at  REAL NOT NULL,
    PRIMARY KEY (account, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_created ON idempotency (created_at);
