"""The store contract for BacklogStore: the paged reads a restart streams its backlog with
(scheduled messages by due time, ENROUTE messages by id). Mixed into a backend's test
class that defines `open_store`, next to StoreContract (it uses that class's `store`)."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest_twisted
from contract import make_account, make_message

from gateway.model import MessageState

__all__ = ["BacklogStoreContract"]


async def _accept(store, *messages) -> None:
    assert await store.accept("acme", list(messages), Decimal(0)) is True


def _scheduled(message_id: str, at: float):
    return make_message(message_id, state=MessageState.SCHEDULED, scheduled_at=at)


async def _all_pages(read, first, limit: int, key):
    pages, after = [], first
    while True:
        page = await read(after, limit)
        pages.append(page)
        if len(page) < limit:
            return pages
        after = key(page[-1])


class BacklogStoreContract:
    @pytest_twisted.ensureDeferred
    async def test_scheduled_messages_come_by_due_time_then_numeric_id_in_pages(self, store):
        await store.add_account(make_account())
        wanted = [_scheduled("9", 300.0), _scheduled("10", 300.0), _scheduled("100", 200.0),
                  _scheduled("2", 400.0), _scheduled("11", 300.0)]
        await _accept(store, *wanted, make_message("3"))  # ENROUTE: not scheduled
        pages = await _all_pages(store.scheduled_messages, None, 2,
                                 lambda m: (m.scheduled_at, m.id))
        assert [len(p) for p in pages] == [2, 2, 1]
        got = [m for page in pages for m in page]
        assert [m.id for m in got] == ["100", "9", "10", "11", "2"]
        assert got[0] == wanted[2]  # every field read back

    @pytest_twisted.ensureDeferred
    async def test_scheduled_messages_leave_the_pages_once_started_or_cancelled(self, store):
        await store.add_account(make_account())
        await _accept(store, _scheduled("1", 100.0), _scheduled("2", 200.0),
                      _scheduled("3", 300.0))
        assert await store.start_scheduled("1", 100.0) is not None
        assert await store.cancel("acme", "3", 150.0, lambda m: []) is not None
        assert [m.id for m in await store.scheduled_messages(None, 10)] == ["2"]
        assert await store.scheduled_messages((200.0, "2"), 10) == []

    @pytest_twisted.ensureDeferred
    async def test_a_later_page_starts_after_the_key_even_for_equal_times(self, store):
        await store.add_account(make_account())
        await _accept(store, *[_scheduled(str(n), 50.0) for n in range(1, 13)])
        page = await store.scheduled_messages((50.0, "9"), 100)
        assert [m.id for m in page] == ["10", "11", "12"]

    @pytest_twisted.ensureDeferred
    async def test_enroute_messages_come_in_numeric_id_order_in_pages(self, store):
        await store.add_account(make_account())
        ids = ["8", "9", "10", "99", "100", "1000"]
        await _accept(store, *[make_message(i) for i in ids], _scheduled("50", 10.0))
        await store.finish("99", MessageState.DELIVERED, 0, 1.0, [])
        pages = await _all_pages(store.enroute_messages, "", 2, lambda m: m.id)
        got = [m.id for page in pages for m in page]
        assert got == ["8", "9", "10", "100", "1000"]
        assert await store.enroute_messages("1000", 5) == []
        first = (await store.enroute_messages("", 1))[0]
        assert first == dataclasses.replace(make_message("8"), state=MessageState.ENROUTE)
