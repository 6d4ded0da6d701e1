"""The SQL of inbound (MO) messages: the numbers accounts own (NumberStore) and the parts of
concatenated MO held until their message is whole (InboundStore). Plain functions on a
cursor inside a transaction the caller owns; changes to numbers bump
settings_version, so running gateways reload their directory."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from gateway.core.numbers import OwnedNumber, normalize_keyword, normalize_number
from gateway.core.ports import NumberTaken, UnknownAccount
from gateway.model import Address, InboundPart, NewOutboxItem, OutboxItem
from gateway.storage.records import inbound_part_row
from gateway.storage.sqlite.accounts import BUMP_SETTINGS
from gateway.storage.sqlite.outbox import outbox_rows, queue_rows

__all__ = [
    "add_inbound_part", "add_number", "complete_inbound", "held_inbound", "list_numbers",
    "remove_number",
]

# --- numbers -------------------------------------------------------------------------------


def add_number(cur: sqlite3.Cursor, entry: OwnedNumber) -> None:
    """Store `entry` normalized; ValueError for a malformed number or keyword."""
    number, keyword = normalize_number(entry.number), normalize_keyword(entry.keyword)
    if cur.execute("SELECT 1 FROM accounts WHERE system_id = ?",
                   (entry.account,)).fetchone() is None:
        raise UnknownAccount(entry.account)
    try:
        cur.execute("INSERT INTO numbers (number, keyword, account) VALUES (?, ?, ?)",
                    (number, keyword, entry.account))
    except sqlite3.IntegrityError as e:
        raise NumberTaken(f"{number} {keyword}".strip()) from e
    cur.execute(BUMP_SETTINGS)


def remove_number(cur: sqlite3.Cursor, number: str, keyword: str = "") -> bool:
    """False when nobody owns (number, keyword), as written in any form that normalizes
    to it (a malformed one is owned by nobody)."""
    try:
        number, keyword = normalize_number(number), normalize_keyword(keyword)
    except ValueError:
        return False
    cur.execute("DELETE FROM numbers WHERE number = ? AND keyword = ?", (number, keyword))
    if cur.rowcount == 0:
        return False
    cur.execute(BUMP_SETTINGS)
    return True


def list_numbers(cur: sqlite3.Cursor, account: str | None) -> list[OwnedNumber]:
    if account is None:
        rows = cur.execute(
            "SELECT number, keyword, account FROM numbers ORDER BY number, keyword")
    else:
        rows = cur.execute("SELECT number, keyword, account FROM numbers WHERE account = ?"
                           " ORDER BY number, keyword", (account,))
    return [OwnedNumber(number=r[0], keyword=r[1], account=r[2]) for r in rows]


# --- parts of concatenated MO --------------------------------------------------------------

_PART_COLUMNS = (
    "id, source_ton, source_npi, source_addr, destination_ton, destination_npi,"
    " destination_addr, ref, total, seq, body, data_coding, connector, received_at"
)
_GROUP = "source_addr, destination_addr, ref, total"
# A copy of a part already held (same group and seq, or same id) is ignored.
_HOLD = (
    f"INSERT OR IGNORE INTO inbound_parts ({_PART_COLUMNS}) VALUES"
    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Seeks the UNIQUE key, whose last column gives the seq order.
_GROUP_PARTS = (
    f"SELECT {_PART_COLUMNS} FROM inbound_parts WHERE source_addr = ?"
    " AND destination_addr = ? AND ref = ? AND total = ? ORDER BY seq"
)
_COUNT_HELD = "SELECT count(*) FROM inbound_parts WHERE id IN (SELECT value FROM json_each(?))"
_RELEASE = "DELETE FROM inbound_parts WHERE id IN (SELECT value FROM json_each(?))"
# Groups complete (a crash between the last part and its completion) or whose first part
# is older than the cutoff, oldest first, with all their parts by seq.
_HELD = (
    f"WITH g AS (SELECT {_GROUP}, min(received_at) AS first_at FROM inbound_parts"
    f" GROUP BY {_GROUP} HAVING count(*) >= total OR min(received_at) < ?"
    " ORDER BY first_at LIMIT ?)"
    f" SELECT {', '.join('p.' + c.strip() for c in _PART_COLUMNS.split(','))}"
    f" FROM g JOIN inbound_parts p USING ({_GROUP})"
    f" ORDER BY g.first_at, {', '.join('p.' + c.strip() for c in _GROUP.split(','))}, p.seq"
)


def _part(r: tuple) -> InboundPart:
    return InboundPart(
        id=r[0], source=Address(ton=r[1], npi=r[2], addr=r[3]),
        destination=Address(ton=r[4], npi=r[5], addr=r[6]), ref=r[7], total=r[8], seq=r[9],
        body=r[10], data_coding=r[11], connector=r[12], received_at=r[13],
    )


def add_inbound_part(cur: sqlite3.Cursor, part: InboundPart) -> list[InboundPart]:
    """Hold `part` (once); the group's parts by seq."""
    cur.execute(_HOLD, inbound_part_row(part))
    group = (part.source.addr, part.destination.addr, part.ref, part.total)
    return [_part(r) for r in cur.execute(_GROUP_PARTS, group)]


def complete_inbound(
    cur: sqlite3.Cursor, parts: Sequence[InboundPart], items: Sequence[NewOutboxItem]
) -> list[OutboxItem] | None:
    """Let go of `parts` and queue `items`; None, with nothing written, unless every one of
    `parts` is still held (when one is gone, another completion took the group)."""
    rows = outbox_rows(items)
    ids = json.dumps(sorted({p.id for p in parts}))
    wanted = len({p.id for p in parts})
    if wanted == 0 or cur.execute(_COUNT_HELD, (ids,)).fetchone()[0] != wanted:
        return None
    cur.execute(_RELEASE, (ids,))
    return queue_rows(cur, rows)


def held_inbound(cur: sqlite3.Cursor, received_before: float,
                 limit: int) -> list[list[InboundPart]]:
    """Up to `limit` groups, oldest first, that are complete or began before the cutoff."""
    if limit <= 0:
        return []
    groups: list[list[InboundPart]] = []
    key = None
    for r in cur.execute(_HELD, (received_before, limit)):
        part = _part(r)
        part_key = (part.source.addr, part.destination.addr, part.ref, part.total)
        if part_key != key:
            groups.append([])
            key = part_key
        groups[-1].append(part)
    return groups
