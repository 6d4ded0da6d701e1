"""The SQL of accounts and of the settings version every admin change bumps. Like every
module of this backend, plain functions on a cursor inside a transaction their caller
owns (the group-commit writer's batch)."""
from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

from gateway.core.ports import AccountExists, UnknownAccount
from gateway.model import Account, DeliverVia
from gateway.storage.money import from_micro, to_micro
from gateway.storage.records import account_from_row
from gateway.storage.sqlite.rows import placeholders

ACCOUNT_COLUMNS = (
    'system_id, password_hash, balance, max_binds, throughput, "window", allow_ips, enabled,'
    " webhook_url, webhook_secret, deliver_via"
)
_SELECT_ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM accounts"
BUMP_SETTINGS = "UPDATE meta SET settings_version = settings_version + 1 WHERE id = 1"


def _settings(a: Account) -> tuple:
    return (a.password_hash, a.max_binds, a.throughput, a.window,
            json.dumps(list(a.allow_ips)), int(a.enabled), a.webhook_url, a.webhook_secret,
            DeliverVia(a.deliver_via).value)


def add_account(cur: sqlite3.Cursor, account: Account) -> None:
    try:
        cur.execute(
            f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES {placeholders(11)}",
            (account.system_id, account.password_hash, to_micro(account.balance),
             *_settings(account)[1:]),
        )
    except sqlite3.IntegrityError as e:
        raise AccountExists(account.system_id) from e
    cur.execute(BUMP_SETTINGS)


def update_account(cur: sqlite3.Cursor, account: Account) -> None:
    cur.execute(
        'UPDATE accounts SET password_hash = ?, max_binds = ?, throughput = ?, "window" = ?,'
        " allow_ips = ?, enabled = ?, webhook_url = ?, webhook_secret = ?, deliver_via = ?"
        " WHERE system_id = ?",
        (*_settings(account), account.system_id),
    )
    if cur.rowcount == 0:
        raise UnknownAccount(account.system_id)
    cur.execute(BUMP_SETTINGS)


def get_account(cur: sqlite3.Cursor, system_id: str) -> Account | None:
    row = cur.execute(f"{_SELECT_ACCOUNT} WHERE system_id = ?", (system_id,)).fetchone()
    return None if row is None else account_from_row(row)


def list_accounts(cur: sqlite3.Cursor) -> list[Account]:
    return [account_from_row(r) for r in cur.execute(f"{_SELECT_ACCOUNT} ORDER BY system_id")]


def topup(cur: sqlite3.Cursor, system_id: str, amount: Decimal) -> Decimal:
    row = cur.execute(
        "UPDATE accounts SET balance = balance + ? WHERE system_id = ? RETURNING balance",
        (to_micro(amount), system_id),
    ).fetchone()
    if row is None:
        raise UnknownAccount(system_id)
    cur.execute(BUMP_SETTINGS)
    return from_micro(row[0])


def settings_version(cur: sqlite3.Cursor) -> int:
    return cur.execute("SELECT settings_version FROM meta WHERE id = 1").fetchone()[0]


def require_account(cur: sqlite3.Cursor, system_id: str) -> None:
    if cur.execute("SELECT 1 FROM accounts WHERE system_id = ?", (system_id,)).fetchone() is None:
        raise UnknownAccount(system_id)
