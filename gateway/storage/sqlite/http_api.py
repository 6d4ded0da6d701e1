"""The SQL of what the HTTP API adds to the SQLite store: API keys, price tables and
idempotent accepts. Each function takes a cursor and runs inside a transaction its caller
owns. Changes to keys and prices bump settings_version, so running gateways reload them.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from decimal import Decimal

from gateway.core.apikeys import ApiKey
from gateway.core.idempotency import OnceOutcome, Remembered
from gateway.core.pricing import ALL_ACCOUNTS, PriceEntry
from gateway.model import Account, Message
from gateway.storage.money import from_micro, to_micro
from gateway.storage.records import api_key_from_row
from gateway.storage.sqlite.accounts import (
    ACCOUNT_COLUMNS,
    BUMP_SETTINGS,
    account_from_row,
    require_account,
)
from gateway.storage.sqlite.messages import accept

__all__ = [
    "accept_once", "account_for_api_key", "add_api_key", "delete_price", "expire_idempotency",
    "list_api_keys", "list_prices", "revoke_api_key", "set_price",
]

# --- API keys ------------------------------------------------------------------------------

_KEY_COLUMNS = "id, account, prefix, label, created_at, revoked_at"


def add_api_key(
    cur: sqlite3.Cursor, account: str, key_hash: str, prefix: str, label: str, created_at: float
) -> ApiKey:
    require_account(cur, account)
    row = cur.execute(
        "INSERT INTO api_keys (account, key_hash, prefix, label, created_at)"
        f" VALUES (?, ?, ?, ?, ?) RETURNING {_KEY_COLUMNS}",
        (account, key_hash, prefix, label, created_at)).fetchone()
    cur.execute(BUMP_SETTINGS)
    return api_key_from_row(row)


def list_api_keys(cur: sqlite3.Cursor, account: str) -> list[ApiKey]:
    require_account(cur, account)
    rows = cur.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE account = ? ORDER BY id", (account,))
    return [api_key_from_row(r) for r in rows]


def revoke_api_key(cur: sqlite3.Cursor, account: str, key_id: int, revoked_at: float) -> bool:
    """Revoke the account's key `key_id`; False when it has no such active key."""
    cur.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND account = ? AND revoked_at IS NULL",
        (revoked_at, key_id, account))
    if cur.rowcount == 0:
        return False
    cur.execute(BUMP_SETTINGS)
    return True


def account_for_api_key(cur: sqlite3.Cursor, key_hash: str) -> Account | None:
    """The account an active key belongs to (None: unknown or revoked key)."""
    row = cur.execute(
        f"SELECT {', '.join('a.' + c.strip() for c in ACCOUNT_COLUMNS.split(','))}"
        " FROM api_keys k JOIN accounts a ON a.system_id = k.account"
        " WHERE k.key_hash = ? AND k.revoked_at IS NULL", (key_hash,)).fetchone()
    return None if row is None else account_from_row(row)


# --- price tables --------------------------------------------------------------------------

def set_price(cur: sqlite3.Cursor, account: str, prefix: str, price: Decimal) -> None:
    """Set the price per part for `account`'s (or ALL_ACCOUNTS') destinations under `prefix`."""
    micro = to_micro(price)
    if micro < 0:
        raise ValueError(f"negative price {price}")
    if account != ALL_ACCOUNTS:
        require_account(cur, account)
    cur.execute(
        "INSERT INTO prices (account, prefix, price) VALUES (?, ?, ?)"
        " ON CONFLICT (account, prefix) DO UPDATE SET price = excluded.price",
        (account, prefix, micro))
    cur.execute(BUMP_SETTINGS)


def delete_price(cur: sqlite3.Cursor, account: str, prefix: str) -> bool:
    cur.execute("DELETE FROM prices WHERE account = ? AND prefix = ?", (account, prefix))
    if cur.rowcount == 0:
        return False
    cur.execute(BUMP_SETTINGS)
    return True


def list_prices(cur: sqlite3.Cursor, account: str | None) -> list[PriceEntry]:
    """The entries of one table (`account`), or of all tables (None)."""
    if account is None:
        rows = cur.execute("SELECT account, prefix, price FROM prices ORDER BY account, prefix")
    else:
        rows = cur.execute(
            "SELECT account, prefix, price FROM prices WHERE account = ? ORDER BY prefix",
            (account,))
    return [PriceEntry(account=r[0], prefix=r[1], price=from_micro(r[2])) for r in rows]


# --- idempotent accept ---------------------------------------------------------------------

def accept_once(
    cur: sqlite3.Cursor, account: str, key: str | None, fingerprint: str,
    messages: Sequence[Message], cost: Decimal, result: str, now: float,
) -> OnceOutcome:
    """`messages.accept` unless (account, key) was accepted before: then nothing is
    written and the remembered result comes back. On acceptance the result is remembered
    in the same transaction, with the balance right after the debit. With key None it is
    a plain accept that reports the balance after the debit."""
    if key is not None:
        row = cur.execute(
            "SELECT fingerprint, result, balance FROM idempotency WHERE account = ? AND key = ?",
            (account, key)).fetchone()
        if row is not None:
            return OnceOutcome(accepted=False, earlier=Remembered(
                fingerprint=row[0], result=row[1], balance=from_micro(row[2])))
    if not accept(cur, account, messages, cost):
        return OnceOutcome(accepted=False)
    balance = cur.execute(
        "SELECT balance FROM accounts WHERE system_id = ?", (account,)).fetchone()[0]
    if key is None:
        return OnceOutcome(accepted=True, balance=from_micro(balance))
    cur.execute(
        "INSERT INTO idempotency (account, key, fingerprint, result, balance, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)", (account, key, fingerprint, result, balance, now))
    return OnceOutcome(accepted=True, balance=from_micro(balance))


def expire_idempotency(cur: sqlite3.Cursor, created_before: float) -> int:
    """Forget keys older than `created_before`; returns how many."""
    cur.execute("DELETE FROM idempotency WHERE created_at < ?", (created_before,))
    return cur.rowcount
