"""Delivery removes answered receipts from the outbox in bulk: one ack_outbox in flight,
the receipts answered meanwhile go together in the next; each stays known (never re-sent
from memory) until the operation that removes it has committed."""
from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from gateway.core.binds import BindRegistry, DeliveryAnswers
from gateway.core.delivery import Delivery, DeliveryConfig
from gateway.model import Address, BindKind, DeliveryKind, OutboxItem

ACCOUNT = "acme"


class _Owner:
    owner = 7


OWNER = _Owner()


class Store:
    def __init__(self) -> None:
        self.acks: list[tuple[list[int], Deferred]] = []

    def ack_outbox(self, item_ids):
        d: Deferred = Deferred()
        self.acks.append((list(item_ids), d))
        return d

    def claim_outbox(self, account, owner, limit):
        return succeed([])

    def release_outbox(self, item_ids):
        return succeed(None)

    def expire_outbox(self, created_before):
        return succeed(0)


class Channel:
    account = ACCOUNT
    kind = BindKind.TRANSCEIVER

    def __init__(self) -> None:
        self.sent: list[tuple[OutboxItem, DeliveryAnswers]] = []

    def load(self) -> int:
        return len(self.sent)

    def has_room(self) -> bool:
        return True

    def deliver(self, item: OutboxItem, answers: DeliveryAnswers) -> bool:
        self.sent.append((item, answers))
        return True

    def hold_writes(self) -> None:
        pass

    def release_writes(self) -> None:
        pass

    def answer(self, index: int, status: int = 0) -> None:
        """The customer's deliver_sm_resp to the `index`th item sent."""
        sent, answers = self.sent[index]
        answers.answered(sent, status)


def item(n: int) -> OutboxItem:
    return OutboxItem(id=n, account=ACCOUNT, kind=DeliveryKind.RECEIPT,
                      source=Address(addr="1"), destination=Address(addr="2"),
                      body=b"id:%d stat:DELIVRD" % n, message_id=str(n), created_at=1000.0,
                      claimed_by=OWNER.owner)


def setup():
    clock = Clock()
    clock.advance(1000)
    store, binds, channel = Store(), BindRegistry(), Channel()
    binds.add(channel)
    delivery = Delivery(store, binds, clock, DeliveryConfig(), owner=OWNER)
    delivery.wake(ACCOUNT)  # the (empty) outbox is loaded: from now on enqueue sends at once
    return delivery, store, channel


def known(delivery) -> set[int]:
    return delivery._accounts[ACCOUNT].known


def test_receipts_answered_during_an_ack_go_together_in_the_next():
    delivery, store, channel = setup()
    for n in (1, 2, 3):
        delivery.enqueue(item(n))
    channel.answer(0)
    assert [ids for ids, _ in store.acks] == [[1]]
    channel.answer(1)
    channel.answer(2)
    assert [ids for ids, _ in store.acks] == [[1]]  # waiting for the first to commit
    assert known(delivery) == {1, 2, 3}
    store.acks[0][1].callback(None)
    assert [ids for ids, _ in store.acks] == [[1], [2, 3]]
    assert known(delivery) == {2, 3}
    store.acks[1][1].callback(None)
    assert known(delivery) == set()


def test_a_failed_ack_puts_its_receipts_back_in_the_queue():
    delivery, store, channel = setup()
    for n in (1, 2):
        delivery.enqueue(item(n))
    channel.answer(0)
    channel.answer(1)
    store.acks[0][1].errback(RuntimeError("disk full"))
    # 1 is sent again at once; 2 (still waiting for an ack) goes in the next operation
    assert [i.id for i, _ in channel.sent] == [1, 2, 1]
    assert [ids for ids, _ in store.acks] == [[1], [2]]
    assert known(delivery) == {1, 2}


def test_stop_queues_the_waiting_acks_before_the_store_closes():
    delivery, store, channel = setup()
    for n in (1, 2):
        delivery.enqueue(item(n))
    channel.answer(0)
    channel.answer(1)
    delivery.stop()
    assert [ids for ids, _ in store.acks] == [[1], [2]]


def test_enqueue_many_sends_each_in_order_and_leaves_the_others_to_their_node():
    delivery, store, channel = setup()
    other = OutboxItem(id=9, account=ACCOUNT, kind=DeliveryKind.RECEIPT,
                       source=Address(addr="1"), destination=Address(addr="2"),
                       body=b"id:9 stat:DELIVRD", message_id="9", created_at=1000.0,
                       claimed_by=None)  # unclaimed: for whichever node claims it
    claims = []
    store.claim_outbox = lambda account, owner, limit: claims.append(account) or succeed([])
    delivery.enqueue_many([item(1), other, item(2), item(3)])
    assert [sent.id for sent, _ in channel.sent] == [1, 2, 3]
    assert known(delivery) == {1, 2, 3}
    assert claims == [ACCOUNT]  # the unclaimed one is claimed from the store, once
