"""The SQL of several gateway processes on one store (ClusterStore): owners (one per run of
a gateway process), their heartbeats, the takeover of owners that are gone, and the binds
counted over all of them. Plain functions on a cursor inside a transaction the caller owns.

A SQLite file serves the processes of one machine: a running gateway holds its node lock
(connection.StoreConnection.hold_node_lock), so a restarted one knows at once that the
owner left behind under its node_id is gone, and adopts its work without waiting a lease.
"""
from __future__ import annotations

import sqlite3

from gateway.core.ports import NodeIdTaken

__all__ = [
    "add_bind", "claim_dead_owner", "count_binds", "heartbeat", "join_cluster",
    "leave_cluster", "release_claims", "remove_bind", "retire_owner",
]


def join_cluster(cur: sqlite3.Cursor, node_id: int, now: float) -> int:
    if not cur.connection.hold_node_lock(node_id):
        raise NodeIdTaken(node_id)
    return cur.execute(
        "INSERT INTO nodes (node_id, started_at, heartbeat_at) VALUES (?, ?, ?)"
        " RETURNING owner", (node_id, now, now)).fetchone()[0]


def heartbeat(cur: sqlite3.Cursor, owner: int, now: float) -> bool:
    cur.execute("UPDATE nodes SET heartbeat_at = ? WHERE owner = ? AND taken_by IS NULL"
                " AND left_at IS NULL", (now, owner))
    return cur.rowcount == 1


# An owner is gone when it left, when it is an earlier run of the claimer's own node_id
# (whose lock the claimer holds), or when its heartbeat is older than the lease.
_GONE = (
    "SELECT owner FROM nodes WHERE taken_by IS NULL AND owner != ?1"
    " AND (left_at IS NOT NULL OR node_id = (SELECT node_id FROM nodes WHERE owner = ?1)"
    " OR heartbeat_at < ?2) ORDER BY owner LIMIT 1"
)


def claim_dead_owner(cur: sqlite3.Cursor, owner: int, now: float,
                     lease: float | None) -> int | None:
    """One owner whose work `owner` must take over: one it claimed before and has not
    retired yet (a takeover cut short), else a gone one, now claimed. Its claims are
    released and its binds dropped; what it was itself taking over passes to `owner`."""
    row = cur.execute("SELECT owner FROM nodes WHERE taken_by = ? ORDER BY owner LIMIT 1",
                      (owner,)).fetchone()
    if row is None:
        stale_before = float("-inf") if lease is None else now - lease
        row = cur.execute(_GONE, (owner, stale_before)).fetchone()
        if row is None:
            return None
    gone = row[0]
    cur.execute("UPDATE nodes SET taken_by = ? WHERE owner = ? OR taken_by = ?",
                (owner, gone, gone))
    _let_go(cur, gone)
    return gone


def _let_go(cur: sqlite3.Cursor, owner: int) -> None:
    cur.execute("UPDATE outbox SET claimed_by = NULL WHERE claimed_by = ?", (owner,))
    cur.execute("UPDATE webhook_outbox SET claimed_by = NULL WHERE claimed_by = ?", (owner,))
    cur.execute("DELETE FROM binds WHERE owner = ?", (owner,))


def retire_owner(cur: sqlite3.Cursor, owner: int) -> None:
    cur.execute("DELETE FROM nodes WHERE owner = ?", (owner,))


def leave_cluster(cur: sqlite3.Cursor, owner: int) -> None:
    cur.execute("UPDATE nodes SET left_at = heartbeat_at WHERE owner = ?", (owner,))
    _let_go(cur, owner)


def add_bind(cur: sqlite3.Cursor, owner: int, bind_id: int, account: str, kind: str,
             max_binds: int, now: float) -> bool:
    count = cur.execute("SELECT count(*) FROM binds WHERE account = ?", (account,)).fetchone()[0]
    if count >= max_binds:
        return False
    cur.execute("INSERT INTO binds (owner, bind_id, account, kind, since) VALUES (?, ?, ?, ?, ?)",
                (owner, bind_id, account, kind, now))
    return True


def remove_bind(cur: sqlite3.Cursor, owner: int, bind_id: int) -> None:
    cur.execute("DELETE FROM binds WHERE owner = ? AND bind_id = ?", (owner, bind_id))


def count_binds(cur: sqlite3.Cursor, account: str) -> int:
    return cur.execute("SELECT count(*) FROM binds WHERE account = ?", (account,)).fetchone()[0]


def release_claims(cur: sqlite3.Cursor, owner: int) -> None:
    cur.execute("UPDATE outbox SET claimed_by = NULL WHERE claimed_by = ?", (owner,))
    cur.execute("UPDATE webhook_outbox SET claimed_by = NULL WHERE claimed_by = ?", (owner,))
