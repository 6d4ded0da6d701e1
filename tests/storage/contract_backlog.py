"""The store contract for the paged read of an owner's schedule (Store.scheduled_messages),
which keeps a schedule of any size out of memory. Mixed into a backend's test class next
to StoreContract (it uses that class's `store`)."""
from __future__ import annotations

from decimal import Decimal

import pytest_twisted
from contract import make_account, make_message

from gateway.model import MessageState

__all__ = ["BacklogStoreContract"]


async def _accept(store, *messages) -> None:
    assert await store.accept("acme", list(messages), Decimal(0)) is True


OWNER = 5


def _scheduled(message_id: str, at: float, owner: int = OWNER):
    return make_message(message_id, state=MessageState.SCHEDULED, scheduled_at=at,
                        owner=owner)


def _page(store):
    return lambda after, limit: store.scheduled_messages(OWNER, after, limit)


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
        await _accept(store, *wanted, make_message("3", owner=OWNER),  # ENROUTE
                      _scheduled("1", 100.0, owner=6))  # another owner's
        pages = await _all_pages(_page(store), None, 2,
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
        assert [m.id for m in await store.scheduled_messages(OWNER, None, 10)] == ["2"]
        assert await store.scheduled_messages(OWNER, (200.0, "2"), 10) == []

    @pytest_twisted.ensureDeferred
    async def test_a_later_page_starts_after_the_key_even_for_equal_times(self, store):
        await store.add_account(make_account())
        await _accept(store, *[_scheduled(str(n), 50.0) for n in range(1, 13)])
        page = await store.scheduled_messages(OWNER, (50.0, "9"), 100)
        assert [m.id for m in page] == ["10", "11", "12"]

    @pytest_twisted.ensureDeferred
    async def test_adopted_scheduled_messages_page_in_with_their_new_owner(self, store):
        await store.add_account(make_account())
        await _accept(store, _scheduled("1", 10.0, owner=9), _scheduled("2", 20.0))
        assert [m.id for m in await store.scheduled_messages(OWNER, None, 10)] == ["2"]
        await store.adopt_messages(9, OWNER, 10)
        assert [m.id for m in await store.scheduled_messages(OWNER, None, 10)] == ["1", "2"]
        assert await store.scheduled_messages(9, None, 10) == []
