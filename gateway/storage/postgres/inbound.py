"""The SQL of inbound (MO) messages on PostgreSQL: the numbers accounts own (NumberStore)
and the parts of concatenated MO held until their message is whole (InboundStore).

Parts of one MO may arrive on different nodes at once: each insert takes a transaction-
scoped advisory lock on its group first, so the later transaction waits for the earlier
one's commit and then sees its part: one of them finds the group whole."""
from __future__ import annotations

from collections.abc import Sequence

import psycopg

from gateway.core.numbers import OwnedNumber, normalize_keyword, normalize_number
from gateway.core.ports import NumberTaken
from gateway.model import Address, InboundPart, NewOutboxItem, OutboxItem
from gateway.storage.postgres.accounts import bump_settings, require_account
from gateway.storage.postgres.connection import LOCK_SPACE
from gateway.storage.postgres.outbox import outbox_rows, queue_rows
from gateway.storage.records import inbound_part_row

__all__ = [
    "add_inbound_part", "add_number", "complete_inbound", "held_inbound", "list_numbers",
    "remove_number",
]


def add_number(cur: psycopg.Cursor, entry: OwnedNumber) -> None:
    number, keyword = normalize_number(entry.number), normalize_keyword(entry.keyword)
    require_account(cur, entry.account)
    added = cur.execute("INSERT INTO numbers (number, keyword, account) VALUES (%s, %s, %s)"
                        " ON CONFLICT DO NOTHING RETURNING 1",
                        (number, keyword, entry.account)).fetchone()
    if added is None:
        raise NumberTaken(f"{number} {keyword}".strip())
    bump_settings(cur)


def remove_number(cur: psycopg.Cursor, number: str, keyword: str = "") -> bool:
    try:
        number, keyword = normalize_number(number), normalize_keyword(keyword)
    except ValueError:
        return False
    cur.execute("DELETE FROM numbers WHERE number = %s AND keyword = %s", (number, keyword))
    if cur.rowcount == 0:
        return False
    bump_settings(cur)
    return True


def list_numbers(cur: psycopg.Cursor, account: str | None) -> list[OwnedNumber]:
    if account is None:
        rows = cur.execute("SELECT number, keyword, account FROM numbers"
                           " ORDER BY number, keyword")
    else:
        rows = cur.execute("SELECT number, keyword, account FROM numbers WHERE account = %s"
                           " ORDER BY number, keyword", (account,))
    return [OwnedNumber(number=r[0], keyword=r[1], account=r[2]) for r in rows]


_PART_COLUMNS = (
    "id, source_ton, source_npi, source_addr, destination_ton, destination_npi,"
    " destination_addr, ref, total, seq, body, data_coding, connector, received_at"
)
_GROUP = "source_addr, destination_addr, ref, total"


def _part(r: tuple) -> InboundPart:
    return InboundPart(
        id=r[0], source=Address(ton=r[1], npi=r[2], addr=r[3]),
        destination=Address(ton=r[4], npi=r[5], addr=r[6]), ref=r[7], total=r[8], seq=r[9],
        body=bytes(r[10]), data_coding=r[11], connector=r[12], received_at=r[13])


def add_inbound_part(cur: psycopg.Cursor, part: InboundPart) -> list[InboundPart]:
    row = inbound_part_row(part)
    group = (part.source.addr, part.destination.addr, part.ref, part.total)
    cur.execute(f"SELECT pg_advisory_xact_lock({LOCK_SPACE}, hashtext(%s))",
                ("mo:" + "\x1f".join(map(str, group)),))
    cur.execute(f"INSERT INTO inbound_parts ({_PART_COLUMNS}) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING", row)
    rows = cur.execute(f"SELECT {_PART_COLUMNS} FROM inbound_parts WHERE source_addr = %s"
                       " AND destination_addr = %s AND ref = %s AND total = %s ORDER BY seq",
                       group)
    return [_part(r) for r in rows]


def complete_inbound(cur: psycopg.Cursor, parts: Sequence[InboundPart],
                     items: Sequence[NewOutboxItem]) -> list[OutboxItem] | None:
    """Let go of `parts` and queue `items`; None, with nothing written, unless every one of
    `parts` is still held (when one is gone, another completion took the group)."""
    rows = outbox_rows(items)
    ids = sorted({p.id for p in parts})
    if not ids:
        return None
    held = cur.execute("SELECT id FROM inbound_parts WHERE id = ANY(%s) FOR UPDATE",
                       (ids,)).fetchall()
    if len(held) != len(ids):
        return None
    cur.execute("DELETE FROM inbound_parts WHERE id = ANY(%s)", (ids,))
    return queue_rows(cur, rows)


def held_inbound(cur: psycopg.Cursor, received_before: float,
                 limit: int) -> list[list[InboundPart]]:
    """Up to `limit` groups, oldest first, that are complete or began before the cutoff."""
    if limit <= 0:
        return []
    prefixed = ", ".join("p." + c.strip() for c in _PART_COLUMNS.split(","))
    group_p = ", ".join("p." + c.strip() for c in _GROUP.split(","))
    rows = cur.execute(
        f"WITH g AS (SELECT {_GROUP}, min(received_at) AS first_at FROM inbound_parts"
        f" GROUP BY {_GROUP} HAVING count(*) >= total OR min(received_at) < %s"
        " ORDER BY first_at LIMIT %s)"
        f" SELECT {prefixed} FROM g JOIN inbound_parts p USING ({_GROUP})"
        f" ORDER BY g.first_at, {group_p}, p.seq", (received_before, limit))
    groups: list[list[InboundPart]] = []
    key = None
    for r in rows:
        part = _part(r)
        part_key = (part.source.addr, part.destination.addr, part.ref, part.total)
        if part_key != key:
            groups.append([])
            key = part_key
        groups[-1].append(part)
    return groups
