"""The SQL of several gateway nodes on one PostgreSQL database (ClusterStore): owners, their
heartbeats, the takeover of owners that are gone, and binds counted over all of them.

A running node holds the advisory lock of its node_id on its writer's session
(connection.StoreConnection.take_node_lock): a node restarted after a crash gets it at
once, a second process with a live node's node_id is refused. Whether another node is
gone is judged by its heartbeat (a lease), not by its lock: after a restart of PostgreSQL
every lock is free for a moment. Taking a node over also ends its writer's session, so a
node that was only frozen cannot write its stale work once it wakes up."""
from __future__ import annotations

import psycopg

from gateway.core.ports import NodeIdTaken

__all__ = [
    "add_bind", "claim_dead_owner", "count_binds", "heartbeat", "join_cluster",
    "leave_cluster", "release_claims", "remove_bind", "retire_owner",
]


def join_cluster(cur: psycopg.Cursor, node_id: int, now: float) -> int:
    if not cur.connection.take_node_lock(node_id):
        raise NodeIdTaken(node_id)
    return cur.execute(
        f"INSERT INTO nodes (node_id, started_at, heartbeat_at, backend_pid, backend_start)"
        f" VALUES (%s, %s, %s, {_SESSION}) RETURNING owner", (node_id, now, now)
    ).fetchone()[0]


# this session, as pg_stat_activity names it
_SESSION = ("pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity"
            " WHERE pid = pg_backend_pid())")


def heartbeat(cur: psycopg.Cursor, owner: int, now: float) -> bool:
    cur.execute(f"UPDATE nodes SET heartbeat_at = %s, (backend_pid, backend_start) ="
                f" (SELECT {_SESSION}) WHERE owner = %s AND taken_by IS NULL"
                " AND left_at IS NULL", (now, owner))
    return cur.rowcount == 1


_GONE = (
    "SELECT owner, backend_pid, backend_start FROM nodes WHERE taken_by IS NULL"
    " AND owner != %(me)s"
    " AND (left_at IS NOT NULL OR node_id = (SELECT node_id FROM nodes WHERE owner = %(me)s)"
    " OR heartbeat_at < %(stale)s) ORDER BY owner LIMIT 1 FOR UPDATE SKIP LOCKED"
)


def claim_dead_owner(cur: psycopg.Cursor, owner: int, now: float,
                     lease: float | None) -> int | None:
    """One owner whose work `owner` must take over (see ports.ClusterStore)."""
    row = cur.execute("SELECT owner FROM nodes WHERE taken_by = %s ORDER BY owner LIMIT 1",
                      (owner,)).fetchone()
    if row is None:
        stale = float("-inf") if lease is None else now - lease
        row = cur.execute(_GONE, {"me": owner, "stale": stale}).fetchone()
        if row is None:
            return None
        if row[1] is not None:  # silent, maybe only frozen: its session must not write again
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s"
                        " AND backend_start = %s AND pid != pg_backend_pid()", (row[1], row[2]))
    gone = row[0]
    cur.execute("UPDATE nodes SET taken_by = %s WHERE owner = %s OR taken_by = %s",
                (owner, gone, gone))
    _let_go(cur, gone)
    return gone


def _let_go(cur: psycopg.Cursor, owner: int, binds: bool = True) -> None:
    cur.execute("UPDATE outbox SET claimed_by = NULL WHERE claimed_by = %s RETURNING account",
                (owner,))
    accounts = sorted({r[0] for r in cur.fetchall()})
    if accounts:
        cur.execute("SELECT pg_notify('smsgw_outbox', a) FROM unnest(%s::text[]) AS a",
                    (accounts,))
    cur.execute("UPDATE webhook_outbox SET claimed_by = NULL WHERE claimed_by = %s", (owner,))
    cur.execute("SELECT pg_notify('smsgw_webhooks', '')")
    if binds:
        cur.execute("DELETE FROM binds WHERE owner = %s", (owner,))


def retire_owner(cur: psycopg.Cursor, owner: int) -> None:
    """Forget the owner; the greatest id it accepted is kept in meta."""
    row = cur.execute("DELETE FROM nodes WHERE owner = %s RETURNING last_message_id",
                      (owner,)).fetchone()
    if row is not None and row[0] is not None:
        cur.execute(
            "UPDATE meta SET last_message_id = %(id)s WHERE id = 1 AND"
            " (last_message_id IS NULL OR length(last_message_id) < length(%(id)s)"
            " OR (length(last_message_id) = length(%(id)s) AND last_message_id < %(id)s))",
            {"id": row[0]})


def leave_cluster(cur: psycopg.Cursor, owner: int) -> None:
    cur.execute("UPDATE nodes SET left_at = heartbeat_at WHERE owner = %s", (owner,))
    _let_go(cur, owner)


def add_bind(cur: psycopg.Cursor, owner: int, bind_id: int, account: str, kind: str,
             max_binds: int, now: float) -> bool:
    # the account's row serializes binds of one account made on any node at once
    cur.execute("SELECT 1 FROM accounts WHERE system_id = %s FOR UPDATE", (account,))
    count = cur.execute("SELECT count(*) FROM binds WHERE account = %s",
                        (account,)).fetchone()[0]
    if count >= max_binds:
        return False
    cur.execute("INSERT INTO binds (owner, bind_id, account, kind, since)"
                " VALUES (%s, %s, %s, %s, %s)", (owner, bind_id, account, kind, now))
    return True


def remove_bind(cur: psycopg.Cursor, owner: int, bind_id: int) -> None:
    cur.execute("DELETE FROM binds WHERE owner = %s AND bind_id = %s", (owner, bind_id))


def count_binds(cur: psycopg.Cursor, account: str) -> int:
    return cur.execute("SELECT count(*) FROM binds WHERE account = %s",
                       (account,)).fetchone()[0]


def release_claims(cur: psycopg.Cursor, owner: int) -> None:
    _let_go(cur, owner, binds=False)
