"""The SQL of accounts and of the settings version every admin change bumps (which also
notifies the other nodes on channel smsgw_settings). Plain functions on a cursor inside a
transaction their caller owns (the group-commit writer's batch)."""
from __future__ import annotations

import json
from decimal import Decimal

import psycopg

from gateway.core.ports import AccountExists, UnknownAccount
from gateway.model import Account, DeliverVia
from gateway.storage.money import from_micro, to_micro
from gateway.storage.records import account_from_row

ACCOUNT_COLUMNS = (
    'system_id, password_hash, balance, max_binds, throughput, "window", allow_ips, enabled,'
    " webhook_url, webhook_secret, deliver_via"
)
_SELECT_ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM accounts"
def bump_settings(cur: psycopg.Cursor) -> None:
    cur.execute("UPDATE meta SET settings_version = settings_version + 1 WHERE id = 1")
    cur.execute("SELECT pg_notify('smsgw_settings', '')")


def _settings(a: Account) -> tuple:
    return (a.password_hash, a.max_binds, a.throughput, a.window,
            json.dumps(list(a.allow_ips)), bool(a.enabled), a.webhook_url, a.webhook_secret,
            DeliverVia(a.deliver_via).value)


def add_account(cur: psycopg.Cursor, account: Account) -> None:
    row = (account.system_id, account.password_hash, to_micro(account.balance),
           *_settings(account)[1:])
    # ON CONFLICT rather than catching the violation: a failed statement would abort the
    # whole batch's transaction
    added = cur.execute(f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES"
                        " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (system_id) DO NOTHING RETURNING 1", row).fetchone()
    if added is None:
        raise AccountExists(account.system_id)
    bump_settings(cur)


def update_account(cur: psycopg.Cursor, account: Account) -> None:
    cur.execute(
        'UPDATE accounts SET password_hash = %s, max_binds = %s, throughput = %s, "window" = %s,'
        " allow_ips = %s, enabled = %s, webhook_url = %s, webhook_secret = %s,"
        " deliver_via = %s WHERE system_id = %s", (*_settings(account), account.system_id))
    if cur.rowcount == 0:
        raise UnknownAccount(account.system_id)
    bump_settings(cur)


def get_account(cur: psycopg.Cursor, system_id: str) -> Account | None:
    row = cur.execute(f"{_SELECT_ACCOUNT} WHERE system_id = %s", (system_id,)).fetchone()
    return None if row is None else account_from_row(row)


def list_accounts(cur: psycopg.Cursor) -> list[Account]:
    return [account_from_row(r) for r in cur.execute(f"{_SELECT_ACCOUNT} ORDER BY system_id")]


def topup(cur: psycopg.Cursor, system_id: str, amount: Decimal) -> Decimal:
    row = cur.execute(
        "UPDATE accounts SET balance = balance + %s WHERE system_id = %s RETURNING balance",
        (to_micro(amount), system_id)).fetchone()
    if row is None:
        raise UnknownAccount(system_id)
    bump_settings(cur)
    return from_micro(row[0])


def settings_version(cur: psycopg.Cursor) -> int:
    return cur.execute("SELECT settings_version FROM meta WHERE id = 1").fetchone()[0]


def require_account(cur: psycopg.Cursor, system_id: str) -> None:
    if cur.execute("SELECT 1 FROM accounts WHERE system_id = %s",
                   (system_id,)).fetchone() is None:
        raise UnknownAccount(system_id)
