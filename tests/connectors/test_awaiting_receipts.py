"""AwaitingReceipts: bounded, oldest out first, the newest submit of a recycled id wins."""
from __future__ import annotations

from gateway.connectors.awaiting_receipts import AwaitingReceipts
from gateway.model import Address, Message


def message(message_id: str) -> Message:
    return Message(id=message_id, account="acme", source=Address(addr="1"),
                   destination=Address(addr="2"), body=b"x")


def test_the_oldest_entry_goes_when_the_limit_is_passed():
    awaiting = AwaitingReceipts(limit=2)
    for n in ("1", "2", "3"):
        awaiting.remember(f"t:{n}", message(n))
    assert len(awaiting) == 2
    assert awaiting.get("t:1") is None
    assert [awaiting.get(k).id for k in ("t:2", "t:3")] == ["2", "3"]


def test_a_recycled_id_names_its_newest_submit_and_stays_longest():
    awaiting = AwaitingReceipts(limit=2)
    awaiting.remember("t:a", message("1"))
    awaiting.remember("t:b", message("2"))
    awaiting.remember("t:a", message("3"))  # the upstream used "a" again
    awaiting.remember("t:c", message("4"))  # evicts "b", the oldest now
    assert awaiting.get("t:a").id == "3"
    assert awaiting.get("t:b") is None
    awaiting.forget("t:a")
    awaiting.forget("t:missing")
    assert awaiting.get("t:a") is None and len(awaiting) == 1
