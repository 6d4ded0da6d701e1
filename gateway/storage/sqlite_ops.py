"""The synchronous SQL of the SQLite store: connection setup, migrations, row mapping, and
one plain function per Store operation on accounts and messages (the outbox tables:
sqlite_outbox.py). Every operation takes a cursor and runs inside a transaction its caller
owns, so the same function serves the group-commit writer thread and the synchronous
`SqliteDatabase` the admin CLI uses.
"""
from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from collections.abc import Iterable, Sequence
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable

from gateway.core.ports import AccountExists, UnknownAccount
from gateway.model import (
    Account,
    Address,
    DeliverVia,
    Message,
    MessageState,
    NewOutboxItem,
    OutboxItem,
)
from gateway.storage.sqlite_outbox import outbox_rows, queue_rows
from gateway.storage.sqlite_rows import execute_rows, placeholders

# --- money ---------------------------------------------------------------------------------
# Balances and prices are INTEGER micro-units: exact, and compared atomically in SQL.

_MICRO_EXP = 6
_MAX_MICRO = 2**63 - 1
_MONEY = Context(prec=60, traps=[InvalidOperation, Inexact, Overflow])


def to_micro(amount: Decimal | int) -> int:
    """`amount` in micro-units; ValueError if it has more than 6 decimals or does not fit."""
    kind = type(amount)
    if kind is Decimal and amount.is_finite() or kind is int:
        return _to_micro(amount)  # prices repeat: cached
    if not isinstance(amount, (Decimal, int)) or isinstance(amount, bool):
        raise TypeError(f"money must be a Decimal, not {kind.__name__}")
    return _to_micro.__wrapped__(amount)


@lru_cache(maxsize=1024, typed=True)
def _to_micro(amount: Decimal | int) -> int:
    try:
        scaled = Decimal(amount).scaleb(_MICRO_EXP, _MONEY)
        micro = int(scaled)
        exact = scaled == micro
    except (ArithmeticError, ValueError) as e:
        raise ValueError(f"not a storable amount of money: {amount!r}") from e
    if not exact:
        raise ValueError(f"{amount} has more than {_MICRO_EXP} decimals")
    if not -_MAX_MICRO <= micro <= _MAX_MICRO:
        raise ValueError(f"{amount} is out of range")
    return micro


def from_micro(micro: int) -> Decimal:
    """The exact Decimal for `micro` micro-units, always with 6 decimals."""
    return Decimal(micro).scaleb(-_MICRO_EXP, _MONEY)


# --- connection and migrations ---------------------------------------------------------------

SCHEMA_PACKAGE = "gateway.storage"
SCHEMA_DIR = ("schema", "sqlite")


def connect(path: str | os.PathLike[str], busy_timeout: float) -> sqlite3.Connection:
    """Open `path` in autocommit mode (we issue BEGIN/COMMIT ourselves), WAL, fsync on
    every commit, foreign keys on, and migrated to the newest schema."""
    conn = sqlite3.connect(
        os.fspath(path),
        isolation_level=None,
        check_same_thread=False,
        cached_statements=256,
        timeout=busy_timeout,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"{path}: cannot switch to WAL (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, busy_timeout)
    except BaseException:
        conn.close()
        raise
    return conn


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration file, in order. Files are NNNN_name.sql."""
    return read_migrations(resources.files(SCHEMA_PACKAGE).joinpath(*SCHEMA_DIR).iterdir())


def read_migrations(entries: Iterable[Traversable]) -> list[tuple[int, str, str]]:
    """(version, name, sql) of the .sql files among `entries`, in order; ValueError when two
    share a version."""
    found = []
    for entry in entries:
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for (version, first, _), (following, second, _) in zip(found, found[1:], strict=False):
        if version == following:
            raise ValueError(f"migrations {first} and {second} share version {version}")
    return found


def schema_version(conn: sqlite3.Connection) -> int:
    """The newest migration applied (older ones may be missing: see `migrate`)."""
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return row[0] or 0


def applied_migrations(conn: sqlite3.Connection) -> set[int]:
    return {row[0] for row in conn.execute("SELECT version FROM schema_version")}


def migrate(conn: sqlite3.Connection, busy_timeout: float) -> int:
    """Apply every migration the file lacks, in version order, each in its own transaction;
    returns the newest version.

    "Lacks" means its version is not recorded, not that it is above the newest recorded:
    migrations are written on branches, so 0003 may land after files reached 0004, and
    those files still need it. Safe when the gateway and the CLI open the same file at
    once: what is applied is re-read under the write lock.
    """
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    applied = applied_migrations(conn)
    for version, name, sql in migrations():
        if version in applied:
            continue
        begin_immediate(conn, busy_timeout)
        try:
            if version not in applied_migrations(conn):
                for statement in split_sql(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise sqlite3.OperationalError(f"migration {name} failed: {e}") from e
            raise
    return schema_version(conn)


def split_sql(script: str) -> list[str]:
    """The statements of `script` (executescript would commit behind our back)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in current.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at end of migration: {current!r}")
    return statements


def begin_immediate(conn: sqlite3.Connection, timeout: float) -> None:
    """BEGIN IMMEDIATE, polling finely for the write lock for up to `timeout` seconds.

    SQLite's own busy handler backs off to 100 ms sleeps; a busy gateway releases the lock
    only for microseconds between its group commits, so a short poll finds that gap where
    the coarse one would time out with 'database is locked'.
    """
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if e.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(0.0001, 0.001))
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


# --- accounts ------------------------------------------------------------------------------

_ACCOUNT_COLUMNS = (
    'system_id, password_hash, balance, max_binds, throughput, "window", allow_ips, enabled,'
    " webhook_url, webhook_secret, deliver_via"
)
_SELECT_ACCOUNT = f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"
_BUMP_SETTINGS = "UPDATE meta SET settings_version = settings_version + 1 WHERE id = 1"


def _account(row: tuple) -> Account:
    return Account(
        system_id=row[0],
        password_hash=row[1],
        balance=from_micro(row[2]),
        max_binds=row[3],
        throughput=row[4],
        window=row[5],
        allow_ips=tuple(json.loads(row[6])),
        enabled=bool(row[7]),
        webhook_url=row[8],
        webhook_secret=row[9],
        deliver_via=DeliverVia(row[10]),
    )


def _settings(a: Account) -> tuple:
    return (a.password_hash, a.max_binds, a.throughput, a.window,
            json.dumps(list(a.allow_ips)), int(a.enabled), a.webhook_url, a.webhook_secret,
            DeliverVia(a.deliver_via).value)


def add_account(cur: sqlite3.Cursor, account: Account) -> None:
    try:
        cur.execute(
            f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES {placeholders(11)}",
            (account.system_id, account.password_hash, to_micro(account.balance),
             *_settings(account)[1:]),
        )
    except sqlite3.IntegrityError as e:
        raise AccountExists(account.system_id) from e
    cur.execute(_BUMP_SETTINGS)


def update_account(cur: sqlite3.Cursor, account: Account) -> None:
    cur.execute(
        'UPDATE accounts SET password_hash = ?, max_binds = ?, throughput = ?, "window" = ?,'
        " allow_ips = ?, enabled = ?, webhook_url = ?, webhook_secret = ?, deliver_via = ?"
        " WHERE system_id = ?",
        (*_settings(account), account.system_id),
    )
    if cur.rowcount == 0:
        raise UnknownAccount(account.system_id)
    cur.execute(_BUMP_SETTINGS)


def get_account(cur: sqlite3.Cursor, system_id: str) -> Account | None:
    row = cur.execute(f"{_SELECT_ACCOUNT} WHERE system_id = ?", (system_id,)).fetchone()
    return None if row is None else _account(row)


def list_accounts(cur: sqlite3.Cursor) -> list[Account]:
    return [_account(r) for r in cur.execute(f"{_SELECT_ACCOUNT} ORDER BY system_id")]


def topup(cur: sqlite3.Cursor, system_id: str, amount: Decimal) -> Decimal:
    row = cur.execute(
        "UPDATE accounts SET balance = balance + ? WHERE system_id = ? RETURNING balance",
        (to_micro(amount), system_id),
    ).fetchone()
    if row is None:
        raise UnknownAccount(system_id)
    cur.execute(_BUMP_SETTINGS)
    return from_micro(row[0])


def settings_version(cur: sqlite3.Cursor) -> int:
    return cur.execute("SELECT settings_version FROM meta WHERE id = 1").fetchone()[0]


# --- messages ------------------------------------------------------------------------------

_MESSAGE_COLUMNS = (
    "id, account, source_ton, source_npi, source_addr, destination_ton, destination_npi,"
    " destination_addr, body, data_coding, esm_class, protocol_id, priority,"
    " registered_delivery, parts, price, state, error_code, submitted_at, done_at,"
    " scheduled_at, expires_at, connector, callback_url, client_ref, transport"
)
_INSERT_MESSAGE = (
    f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES"
    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_MESSAGES = f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES {{rows}}"
_MESSAGE_PLACEHOLDERS = placeholders(26)
_SELECT_MESSAGE = f"SELECT {_MESSAGE_COLUMNS} FROM messages"
_DEBIT = "UPDATE accounts SET balance = balance - ?1 WHERE system_id = ?2 AND balance >= ?1"
# Ids compare as numbers of any width: by length first, then as text.
_RAISE_LAST_ID = (
    "UPDATE meta SET last_message_id = ?1 WHERE id = 1 AND (last_message_id IS NULL"
    " OR length(last_message_id) < length(?1)"
    " OR (length(last_message_id) = length(?1) AND last_message_id < ?1))"
)
_FINISH = (
    "UPDATE messages SET state = ?, error_code = ?, done_at = ? WHERE id = ? AND state <= 1"
)
# Of the ids (a JSON array), those whose messages are not final yet, as one JSON array (one
# row: one sqlite3_step, see sqlite_rows).
_UNFINISHED_AMONG = (
    "SELECT json_group_array(id) FROM messages"
    " WHERE id IN (SELECT value FROM json_each(?)) AND state <= 1"
)
_FINISH_ROWS = (
    "WITH v (id, state, error_code, done_at) AS (VALUES {rows})"
    " UPDATE messages SET state = v.state, error_code = v.error_code, done_at = v.done_at"
    " FROM v WHERE messages.id = v.id AND messages.state <= 1"
)
# Both shapes seek in the partial index messages_unfinished (a row-value comparison would
# make SQLite scan it from the start on every page).
_UNFINISHED_SAME_LENGTH = (
    f"{_SELECT_MESSAGE} WHERE state <= 1 AND length(id) = ? AND id > ? ORDER BY id LIMIT ?"
)
_UNFINISHED_LONGER = (
    f"{_SELECT_MESSAGE} WHERE state <= 1 AND length(id) > ?"
    " ORDER BY length(id), id LIMIT ?"
)


def _id_key(message_id: str) -> tuple[int, str]:
    return len(message_id), message_id


def _message_row(m: Message) -> tuple:
    s, d = m.source, m.destination
    return (
        m.id, m.account, s.ton, s.npi, s.addr, d.ton, d.npi, d.addr, m.body, m.data_coding,
        m.esm_class, m.protocol_id, m.priority, m.registered_delivery, m.parts,
        to_micro(m.price), int(m.state), m.error_code, m.submitted_at, m.done_at,
        m.scheduled_at, m.expires_at, m.connector, m.callback_url, m.client_ref, m.transport,
    )


def _message(r: tuple) -> Message:
    return Message(
        id=r[0], account=r[1],
        source=Address(ton=r[2], npi=r[3], addr=r[4]),
        destination=Address(ton=r[5], npi=r[6], addr=r[7]),
        body=r[8], data_coding=r[9], esm_class=r[10], protocol_id=r[11], priority=r[12],
        registered_delivery=r[13], parts=r[14], price=from_micro(r[15]),
        state=MessageState(r[16]), error_code=r[17], submitted_at=r[18], done_at=r[19],
        scheduled_at=r[20], expires_at=r[21], connector=r[22], callback_url=r[23],
        client_ref=r[24], transport=r[25],
    )


def accept(cur: sqlite3.Cursor, account: str, messages: Sequence[Message], cost: Decimal) -> bool:
    """Debit `cost` and insert `messages`, or write nothing and return False.

    The caller must run this in a transaction (or savepoint) it rolls back on an exception,
    so a failing insert (duplicate id) also undoes the debit.
    """
    micro = to_micro(cost)
    if micro < 0:
        raise ValueError(f"negative cost {cost}")
    rows = [_message_row(m) for m in messages]  # bad values fail before anything is written
    cur.execute(_DEBIT, (micro, account))
    if cur.rowcount == 0:
        if cur.execute("SELECT 1 FROM accounts WHERE system_id = ?", (account,)).fetchone():
            return False
        raise UnknownAccount(account)
    for row in rows:
        cur.execute(_INSERT_MESSAGE, row)
    if rows:
        cur.execute(_RAISE_LAST_ID, (max((r[0] for r in rows), key=_id_key),))
    return True


class OneByOne(Exception):
    """A `*_many` function cannot do the whole run at once (and has written nothing): run
    each call alone."""


def accept_many(
    cur: sqlite3.Cursor, calls: list[tuple[str, Sequence[Message], Decimal]]
) -> list[bool]:
    """`accept` for each call, when every one of them succeeds: one debit per account for
    the run's total (enough balance for the total means enough for each in turn) and
    multi-row inserts. Raises otherwise (see group_commit.Op.many): before writing when the
    run has one account, the usual case, as a refused debit writes nothing."""
    debits: dict[str, int] = {}
    rows = []
    for account, messages, cost in calls:
        micro = to_micro(cost)
        if micro < 0:
            raise OneByOne("negative cost")
        debits[account] = debits.get(account, 0) + micro
        rows += [_message_row(m) for m in messages]
    for account, micro in debits.items():
        cur.execute(_DEBIT, (micro, account))
        if cur.rowcount == 0:
            raise OneByOne(f"{account}: balance short of the run's total, or unknown")
    execute_rows(cur, _INSERT_MESSAGES, _MESSAGE_PLACEHOLDERS, rows)
    if rows:
        cur.execute(_RAISE_LAST_ID, (max((r[0] for r in rows), key=_id_key),))
    return [True] * len(calls)


def get_message(cur: sqlite3.Cursor, message_id: str) -> Message | None:
    row = cur.execute(f"{_SELECT_MESSAGE} WHERE id = ?", (message_id,)).fetchone()
    return None if row is None else _message(row)


def finish(
    cur: sqlite3.Cursor,
    message_id: str,
    state: MessageState,
    error_code: int,
    done_at: float,
    outbox: Sequence[NewOutboxItem],
) -> list[OutboxItem]:
    """Make a message final and queue `outbox` (its receipt's legs, any channel); [] and
    nothing written if it already was final (or is unknown)."""
    state = MessageState(state)
    if not state.is_final:
        raise ValueError(f"finish() needs a final state, not {state.name}")
    rows = outbox_rows(outbox)  # a bad item fails before anything is written
    cur.execute(_FINISH, (int(state), error_code, done_at, message_id))
    if cur.rowcount == 0:
        return []
    return queue_rows(cur, rows)


def finish_many(cur: sqlite3.Cursor, calls: list[tuple]) -> list[list[OutboxItem]]:
    """`finish` for each call, in order: one query, then a multi-row update and one
    multi-row insert per outbox table for the whole run (see sqlite_outbox.queue_rows)."""
    for call in calls:
        if not MessageState(call[1]).is_final:
            raise OneByOne("not a final state")
    ids = json.dumps([call[0] for call in calls])
    unfinished = set(json.loads(cur.execute(_UNFINISHED_AMONG, (ids,)).fetchone()[0]))
    updates: list[tuple] = []
    queued: list[tuple[int, int]] = []  # (index of the call, how many items it queues)
    items: list[NewOutboxItem] = []
    for index, (message_id, state, error_code, done_at, outbox) in enumerate(calls):
        if message_id not in unfinished:
            continue  # already final (or unknown): finish() writes nothing
        unfinished.discard(message_id)  # a second finish of it in this run finds it final
        updates.append((message_id, int(state), error_code, done_at))
        if outbox:
            queued.append((index, len(outbox)))
            items += outbox
    rows = outbox_rows(items)  # a bad item declines the run before anything is written
    execute_rows(cur, _FINISH_ROWS, "(?, ?, ?, ?)", updates)
    stored = queue_rows(cur, rows)
    results: list[list[OutboxItem]] = [[] for _ in calls]
    start = 0
    for index, count in queued:
        results[index] = stored[start:start + count]
        start += count
    return results


def unfinished_messages(cur: sqlite3.Cursor, after_id: str, limit: int) -> list[Message]:
    if limit <= 0:
        return []
    rows = cur.execute(_UNFINISHED_SAME_LENGTH, (len(after_id), after_id, limit)).fetchall()
    if len(rows) < limit:
        rows += cur.execute(_UNFINISHED_LONGER, (len(after_id), limit - len(rows))).fetchall()
    return [_message(r) for r in rows]


def last_message_id(cur: sqlite3.Cursor) -> str | None:
    return cur.execute("SELECT last_message_id FROM meta WHERE id = 1").fetchone()[0]
