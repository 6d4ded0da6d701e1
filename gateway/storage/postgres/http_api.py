"""The SQL of what the HTTP API adds to the PostgreSQL store: API keys, price tables and
idempotent accepts. Changes to keys and prices bump settings_version, so every node
reloads them.

An Idempotency-Key posted to two nodes at once must charge once: the key's row is
inserted before the accept, so the second transaction waits on the first's row and,
once that commits, finds it and returns what it remembered instead of accepting again.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import psycopg

from gateway.core.apikeys import ApiKey
from gateway.core.idempotency import OnceOutcome, Remembered
from gateway.core.pricing import ALL_ACCOUNTS, PriceEntry
from gateway.model import Account, Message
from gateway.storage.money import from_micro, to_micro
from gateway.storage.postgres.accounts import (
    ACCOUNT_COLUMNS,
    account_from_row,
    bump_settings,
    require_account,
)
from gateway.storage.postgres.messages import accept
from gateway.storage.records import api_key_from_row

__all__ = [
    "accept_once", "account_for_api_key", "add_api_key", "delete_price", "expire_idempotency",
    "list_api_keys", "list_prices", "revoke_api_key", "set_price",
]

_KEY_COLUMNS = "id, account, prefix, label, created_at, revoked_at"


def add_api_key(cur: psycopg.Cursor, account: str, key_hash: str, prefix: str, label: str,
                created_at: float) -> ApiKey:
    require_account(cur, account)
    row = cur.execute(
        "INSERT INTO api_keys (account, key_hash, prefix, label, created_at)"
        f" VALUES (%s, %s, %s, %s, %s) RETURNING {_KEY_COLUMNS}",
        (account, key_hash, prefix, label, created_at)).fetchone()
    bump_settings(cur)
    return api_key_from_row(row)


def list_api_keys(cur: psycopg.Cursor, account: str) -> list[ApiKey]:
    require_account(cur, account)
    rows = cur.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE account = %s ORDER BY id",
                       (account,))
    return [api_key_from_row(r) for r in rows]


def revoke_api_key(cur: psycopg.Cursor, account: str, key_id: int, revoked_at: float) -> bool:
    cur.execute("UPDATE api_keys SET revoked_at = %s WHERE id = %s AND account = %s"
                " AND revoked_at IS NULL", (revoked_at, key_id, account))
    if cur.rowcount == 0:
        return False
    bump_settings(cur)
    return True


def account_for_api_key(cur: psycopg.Cursor, key_hash: str) -> Account | None:
    columns = ", ".join("a." + c.strip() for c in ACCOUNT_COLUMNS.split(","))
    row = cur.execute(
        f"SELECT {columns} FROM api_keys k JOIN accounts a ON a.system_id = k.account"
        " WHERE k.key_hash = %s AND k.revoked_at IS NULL", (key_hash,)).fetchone()
    return None if row is None else account_from_row(row)


def set_price(cur: psycopg.Cursor, account: str, prefix: str, price: Decimal) -> None:
    micro = to_micro(price)
    if micro < 0:
        raise ValueError(f"negative price {price}")
    if account != ALL_ACCOUNTS:
        require_account(cur, account)
    cur.execute("INSERT INTO prices (account, prefix, price) VALUES (%s, %s, %s)"
                " ON CONFLICT (account, prefix) DO UPDATE SET price = excluded.price",
                (account, prefix, micro))
    bump_settings(cur)


def delete_price(cur: psycopg.Cursor, account: str, prefix: str) -> bool:
    cur.execute("DELETE FROM prices WHERE account = %s AND prefix = %s", (account, prefix))
    if cur.rowcount == 0:
        return False
    bump_settings(cur)
    return True


def list_prices(cur: psycopg.Cursor, account: str | None) -> list[PriceEntry]:
    if account is None:
        rows = cur.execute("SELECT account, prefix, price FROM prices ORDER BY account, prefix")
    else:
        rows = cur.execute("SELECT account, prefix, price FROM prices WHERE account = %s"
                           " ORDER BY prefix", (account,))
    return [PriceEntry(account=r[0], prefix=r[1], price=from_micro(r[2])) for r in rows]


def accept_once(cur: psycopg.Cursor, account: str, key: str | None, fingerprint: str,
                messages: Sequence[Message], cost: Decimal, result: str,
                now: float) -> OnceOutcome:
    """`messages.accept` unless (account, key) was accepted before: then nothing is written
    and the remembered result comes back; on acceptance the result is remembered in the
    same transaction, with the balance right after the debit."""
    if key is not None:
        require_account(cur, account)
        claimed = cur.execute(
            "INSERT INTO idempotency (account, key, fingerprint, result, balance,"
            " created_at) VALUES (%s, %s, %s, %s, 0, %s) ON CONFLICT DO NOTHING"
            " RETURNING 1", (account, key, fingerprint, result, now)).fetchone()
        if claimed is None:
            row = cur.execute("SELECT fingerprint, result, balance FROM idempotency"
                              " WHERE account = %s AND key = %s", (account, key)).fetchone()
            if row is not None:
                return OnceOutcome(accepted=False, earlier=Remembered(
                    fingerprint=row[0], result=row[1], balance=from_micro(row[2])))
    if not accept(cur, account, messages, cost):
        if key is not None:
            cur.execute("DELETE FROM idempotency WHERE account = %s AND key = %s",
                        (account, key))
        return OnceOutcome(accepted=False)
    balance = cur.execute("SELECT balance FROM accounts WHERE system_id = %s",
                          (account,)).fetchone()[0]
    if key is not None:
        cur.execute("UPDATE idempotency SET balance = %s WHERE account = %s AND key = %s",
                    (balance, account, key))
    return OnceOutcome(accepted=True, balance=from_micro(balance))


def expire_idempotency(cur: psycopg.Cursor, created_before: float) -> int:
    cur.execute("DELETE FROM idempotency WHERE created_at < %s", (created_before,))
    return cur.rowcount
