"""The BacklogStore reads on SQLite: scheduled messages by due time and ENROUTE messages
by id, a page at a time, so a restart streams a backlog of any size instead of loading it.
Mixed into SqliteStore (Deferreds through the group-commit thread's reads)."""
from __future__ import annotations

import sqlite3

from twisted.internet.defer import Deferred

from gateway.model import Message
from gateway.storage import sqlite_ops as ops
from gateway.storage.group_commit import Op

__all__ = ["BacklogStoreMixin", "enroute_messages", "scheduled_messages"]

_SELECT = f"SELECT {ops._MESSAGE_COLUMNS} FROM messages"  # noqa: SLF001 (same package)
# Keys compare as (scheduled_at, numeric id): numeric ids compare by length, then text.
_SCHEDULED_FIRST = (f"{_SELECT} WHERE state = 0"
                    " ORDER BY scheduled_at, length(id), id LIMIT ?")
_SCHEDULED_AFTER = (f"{_SELECT} WHERE state = 0"
                    " AND (scheduled_at, length(id), id) > (?, ?, ?)"
                    " ORDER BY scheduled_at, length(id), id LIMIT ?")
# the partial index messages_unfinished (state <= 1) walked in id order, SCHEDULED skipped
_ENROUTE_AFTER = (f"{_SELECT} WHERE state <= 1 AND state = 1"
                  " AND (length(id), id) > (?, ?) ORDER BY length(id), id LIMIT ?")


def scheduled_messages(cur: sqlite3.Cursor, after: tuple[float, str] | None,
                       limit: int) -> list[Message]:
    if limit <= 0:
        return []
    if after is None:
        rows = cur.execute(_SCHEDULED_FIRST, (limit,)).fetchall()
    else:
        due, message_id = after
        rows = cur.execute(_SCHEDULED_AFTER, (due, len(message_id), message_id, limit))
    return [ops._message(r) for r in rows]  # noqa: SLF001


def enroute_messages(cur: sqlite3.Cursor, after_id: str, limit: int) -> list[Message]:
    if limit <= 0:
        return []
    rows = cur.execute(_ENROUTE_AFTER, (len(after_id), after_id, limit))
    return [ops._message(r) for r in rows]  # noqa: SLF001


_SCHEDULED_MESSAGES = Op(scheduled_messages, writes=False)
_ENROUTE_MESSAGES = Op(enroute_messages, writes=False)


class BacklogStoreMixin:
    """For SqliteStore: Deferreds fired with each page."""

    def scheduled_messages(self, after: tuple[float, str] | None,
                           limit: int) -> Deferred[list[Message]]:
        return self._submit(_SCHEDULED_MESSAGES, (after, limit))

    def enroute_messages(self, after_id: str, limit: int) -> Deferred[list[Message]]:
        return self._submit(_ENROUTE_MESSAGES, (after_id, limit))
