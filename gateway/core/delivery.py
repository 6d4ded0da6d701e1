"""The single DLR/MO fan-out: from the persistent outbox to the account's least-busy bind,
or to its webhook.

Theory of operation
-------------------
Every receipt and every MO is first committed to the store's outbox (`Store.finish`
writes it in the same transaction as the final state; the MO path queues its own), one
item per leg (core/fanout.py decides the legs), then handed to `enqueue`. WEBHOOK items
go to the webhook leg (http/webhooks.py: its own persistent retry schedule); what
follows is the SMPP leg. The store is the truth; memory only holds a bounded
working set per account.

Several nodes may share the store, and an account's binds may be on any of them, so an
item is pushed by the node that *claims* it (ports.Store.claim_outbox): never by two.
Before an item is written, `claim` marks it as this node's when this node will push it
at once (the account has a receiver bind here and nothing older waits in the store):
the common case costs no extra round trip. Otherwise it is written unclaimed, and the
node whose receiver binds have room claims it: a bind with a free window pulls, so
receipts go to the least busy binds over the whole cluster. Other nodes learn of new
unclaimed items from `wake` (a store notification, a new bind, a freed window) and from a
poll every `poll_interval` for each account with a receiver bind here.

- `queue`  items claimed and waiting for a bind with room, oldest first;
- `known`  ids claimed by this node, in the queue or on the wire;
- `backlog` the store may hold unclaimed items of the account that memory does not.

An item leaves `known` only after its removal from the outbox has committed,
i.e. after the customer's deliver_sm_resp: a crash before that re-sends it on
the next bind (at-least-once, never lost: the takeover of a crashed node releases
its claims). Removals go in bulk, like the store's group commit: one `ack_outbox`
in flight, and the items answered meanwhile wait for it and go together in the
next; releases (items claimed here whose binds went away) go in bulk the same
way. Items are skipped, not sent, once older than the expiry; a periodic sweep
deletes them from the store.

When no receiver is bound here nothing is kept in memory; the next bind wakes the
account and its unclaimed items are claimed from the store, a page at a time.
"""
from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from gateway.core.binds import BindRegistry, DeliveryChannel
from gateway.core.fanout import Claims
from gateway.core.ports import Store
from gateway.model import Channel, NewOutboxItem, OutboxItem

log = Logger()
# Enum members read per message, bound once (smpp/constants.py says why)
_WEBHOOK = Channel.WEBHOOK


class WebhookLeg(Protocol):
    """Where WEBHOOK items go once committed (http/webhooks.py)."""

    def wants(self) -> bool:
        """Whether an item written now would be sent at once (a request slot is free)."""

    def enqueue(self, item: OutboxItem) -> None: ...


class Owner(Protocol):
    """This process as a ClusterStore owner (core/cluster.Membership)."""

    owner: int


@dataclass(frozen=True, kw_only=True)
class DeliveryConfig:
    retry_delay: float = 5.0  # after the customer answered a deliver_sm with an error
    expiry: float = 72 * 3600.0  # receipts not acknowledged by then are dropped
    sweep_interval: float = 60.0
    memory_per_account: int = 5000
    poll_interval: float = 2.0  # s between looks for items other nodes left unclaimed


@dataclass
class _AccountQueue:
    queue: deque[OutboxItem] = field(default_factory=deque)
    known: set[int] = field(default_factory=set)
    backlog: bool = True  # at start nobody knows what the store holds
    loading: bool = False


class Delivery:
    def __init__(
        self, store: Store, binds: BindRegistry, clock: IReactorTime, config: DeliveryConfig,
        owner: Owner, webhooks: WebhookLeg | None = None,
        delivered: Callable[[OutboxItem], None] | None = None,
    ) -> None:
        self._store = store
        self._delivered = delivered  # told of each item its account acknowledged (metrics)
        # until it is wired (service.py), WEBHOOK items wait in the store for its poll
        self.webhooks = webhooks
        self._binds = binds
        self._clock = clock
        self._config = config
        self._owner = owner
        self._accounts: dict[str, _AccountQueue] = {}
        self._claims: dict[tuple[int, bool, bool], Claims] = {}
        self._sweeper = LoopingCall(self._sweep)
        self._sweeper.clock = clock
        self._poller = LoopingCall(self._poll)
        self._poller.clock = clock
        self._acks = _Batched(store.ack_outbox, "record {n} receipts as delivered",
                              done=self._acked, failed=self._ack_failed)
        self._releases = _Batched(store.release_outbox, "release {n} receipts",
                                  failed=self._release_failed)

    def start(self) -> None:
        self._sweeper.start(self._config.sweep_interval, now=True)
        self._poller.start(self._config.poll_interval, now=False)

    def stop(self) -> None:
        for loop in (self._sweeper, self._poller):
            if loop.running:
                loop.stop()
        # queue them now: the store commits everything queued before it closes
        self._acks.flush()
        self._releases.flush()

    def claim(self, items: Sequence[NewOutboxItem]) -> list[NewOutboxItem]:
        """`items` about to be written, each marked as this node's when this node will
        push it as soon as it is committed (see the module docstring)."""
        if not items:
            return []
        return self.claimer(items[0].account)(items)

    def claims(self, account: str) -> Claims:
        """Who pushes new items of `account` on each leg: this node's owner, or None (left
        for whichever node claims them). Items built with these need no `claim`."""
        owner = self._owner.owner
        smpp = self._takes(account)
        webhook = self.webhooks is not None and self.webhooks.wants()
        claims = self._claims.get((owner, smpp, webhook))
        if claims is None:  # four kinds per owner: made once, not once per receipt
            claims = self._claims[owner, smpp, webhook] = Claims(
                smpp=owner if smpp else None, webhook=owner if webhook else None)
        return claims

    def claimer(self, account: str) -> Callable[[Sequence[NewOutboxItem]], list[NewOutboxItem]]:
        """`claim` for items of `account`, decided now: for builders that run later, in
        the store's transaction (ports.ReceiptFor)."""
        owner = self._owner.owner
        smpp = self._takes(account)
        webhook = self.webhooks is not None and self.webhooks.wants()

        def claim(items: Sequence[NewOutboxItem]) -> list[NewOutboxItem]:
            return [dataclasses.replace(item, claimed_by=owner)
                    if (webhook if item.channel is _WEBHOOK else smpp) else item
                    for item in items]
        return claim

    def _takes(self, account: str) -> bool:
        aq = self._accounts.get(account)
        return (aq is not None and not aq.backlog and not aq.loading
                and len(aq.queue) < self._config.memory_per_account
                and self._binds.has_receiver(account))

    def enqueue(self, item: OutboxItem) -> None:
        """A committed outbox item: push it now if it is this node's and its leg can."""
        aq = self._take(item)
        if aq is not None:
            self._pump(item.account, aq)

    def enqueue_many(self, items: Sequence[OutboxItem]) -> None:
        """`enqueue` of each (the receipts of one commit), pushing each account once."""
        to_pump: dict[str, _AccountQueue] = {}
        for item in items:
            aq = self._take(item)
            if aq is not None:
                to_pump[item.account] = aq
        for account, aq in to_pump.items():
            self._pump(account, aq)

    def _take(self, item: OutboxItem) -> _AccountQueue | None:
        """Put a committed item where it goes; its account's queue when it needs a pump."""
        if item.channel is _WEBHOOK:
            if self.webhooks is not None:
                self.webhooks.enqueue(item)
            return None
        account = item.account
        aq = self._accounts.get(account)
        if aq is None:
            aq = self._accounts[account] = _AccountQueue()
        if item.claimed_by != self._owner.owner:
            # for whichever node claims it: here too, if a receiver is bound
            aq.backlog = True
            return aq if self._binds.has_receiver(account) else None
        aq.known.add(item.id)
        if not self._binds.has_receiver(account):
            self._release(aq, [item])  # the bind went away since `claim`
            return None
        aq.queue.append(item)
        return aq

    def wake(self, account: str) -> None:
        """A receiver bound, a bind's window freed, or items were queued by another node:
        push what is waiting."""
        aq = self._accounts.get(account)
        if aq is None:
            aq = self._accounts[account] = _AccountQueue()
        if not self._binds.has_receiver(account):
            self._forget_queue(aq)
            return
        self._pump(account, aq)

    def items_queued(self, account: str) -> None:
        """Another node queued unclaimed items for `account` (a store notification)."""
        aq = self._accounts.get(account)
        if aq is not None:
            aq.backlog = True
        if self._binds.has_receiver(account):
            self.wake(account)

    def forget_claims(self) -> None:
        """Drop what memory holds (the store is told apart: StoreEvents.reconnected); an
        answer still to come for an item on the wire finds it unknown, which is harmless."""
        for aq in self._accounts.values():
            aq.queue.clear()
            aq.known.clear()
            aq.backlog = True

    def wake_all(self) -> None:
        for account in list(self._accounts):
            self.wake(account)

    def pending_in_memory(self, account: str) -> int:
        aq = self._accounts.get(account)
        return len(aq.queue) if aq else 0

    # --- internals ---------------------------------------------------------------------------
    def _pump(self, account: str, aq: _AccountQueue) -> None:
        queue = aq.queue
        oldest_allowed = self._clock.seconds() - self._config.expiry
        held: list[DeliveryChannel] = []  # each bind writes its share of the run at once
        try:
            while queue:
                channel = self._binds.least_busy_receiver(account)
                if channel is None:
                    break
                item = queue.popleft()
                if item.created_at < oldest_allowed:
                    aq.known.discard(item.id)  # the sweep deletes it from the store
                    continue
                if channel not in held:
                    channel.hold_writes()
                    held.append(channel)
                self._send(channel, account, item)
        finally:
            for channel in held:
                channel.release_writes()
        # only a bind with room pulls more: a full one leaves them to binds elsewhere
        if not queue and aq.backlog and not aq.loading and self._binds.receiver_has_room(account):
            self._load(account, aq)

    def _send(self, channel: DeliveryChannel, account: str, item: OutboxItem) -> None:
        if not channel.deliver(item, self):
            self._requeue(account, item)  # full or closing: another bind may take it now

    # --- DeliveryAnswers: what the channels report -------------------------------------------
    def answered(self, item: OutboxItem, status: int) -> None:
        """The customer answered a receipt or MO (deliver_sm_resp) with `status`."""
        account = item.account
        if status == 0:
            if self._delivered is not None:
                self._delivered(item)
            self._acks.add(item.id, (account, item))
            return
        log.info("account {account} answered receipt {item_id} with status {status:#x}; "
                 "retrying in {delay}s", account=account, item_id=item.id, status=status,
                 delay=self._config.retry_delay)
        self._clock.callLater(self._config.retry_delay, self._requeue, account, item)
        self.wake(account)

    def not_answered(self, item: OutboxItem) -> None:
        """The bind went away or never answered: another bind may take it right now."""
        self._requeue(item.account, item)

    def _acked(self, acks: list[tuple[str, OutboxItem]]) -> None:
        accounts = {}
        for account, item in acks:
            aq = self._accounts.get(account)
            if aq is not None:
                aq.known.discard(item.id)
                accounts[account] = aq
        for account, aq in accounts.items():
            self._pump(account, aq)

    def _ack_failed(self, acks: list[tuple[str, OutboxItem]]) -> None:
        for account, item in acks:
            self._requeue(account, item)

    def _release_failed(self, ids: list[int]) -> None:
        # still claimed by this node in the store: released with the next batch or poll
        for item_id in ids:
            self._releases.add(item_id, later=True)

    def _requeue(self, account: str, item: OutboxItem) -> None:
        aq = self._accounts.get(account)
        if aq is None or item.id not in aq.known:
            return
        if self._binds.has_receiver(account):
            aq.queue.appendleft(item)
            self._pump(account, aq)
        else:
            self._release(aq, [item])

    def _forget_queue(self, aq: _AccountQueue) -> None:
        """No receiver left here: the store keeps the items, for any node to claim."""
        items = list(aq.queue)
        aq.queue.clear()
        self._release(aq, items)

    def _release(self, aq: _AccountQueue, items: list[OutboxItem]) -> None:
        aq.backlog = True
        for item in items:
            aq.known.discard(item.id)
            self._releases.add(item.id, item.id)

    def _load(self, account: str, aq: _AccountQueue) -> None:
        aq.loading = True
        aq.backlog = False  # an enqueue while loading sets it again
        limit = self._config.memory_per_account - len(aq.queue)
        d = self._store.claim_outbox(account, self._owner.owner, limit)

        def loaded(items: list[OutboxItem]) -> None:
            aq.loading = False
            aq.backlog = aq.backlog or len(items) >= limit
            for item in items:
                if item.id not in aq.known:
                    aq.queue.append(item)
                    aq.known.add(item.id)
            if not self._binds.has_receiver(account):
                self._forget_queue(aq)
            elif aq.queue or aq.backlog:
                self._pump(account, aq)

        def failed(failure) -> None:
            aq.loading = False
            aq.backlog = True
            log.failure("claiming the outbox of {account} failed", failure, account=account,
                        event="store.error")
            self._clock.callLater(self._config.retry_delay, self.wake, account)

        d.addCallbacks(loaded, failed)

    def _poll(self) -> None:
        """Items other nodes queued unclaimed, for accounts with a receiver bind here."""
        self._releases.flush()
        for account in self._binds.accounts():
            if self._binds.has_receiver(account):
                self.items_queued(account)

    def _sweep(self):
        d = self._store.expire_outbox(self._clock.seconds() - self._config.expiry)
        d.addCallback(lambda n: n and log.info("expired {n} undelivered receipts", n=n))
        d.addErrback(lambda f: log.failure("outbox expiry sweep failed", f))


class _Batched:
    """Store writes of item ids that go in bulk, like the store's group commit: one write in
    flight, and the ids added meanwhile go together in the next. `done` and `failed` get
    the payloads of the ids a write covered."""

    def __init__(self, write: Callable[[list[int]], Deferred[None]], what: str, *,
                 done: Callable[[list[Any]], None] | None = None,
                 failed: Callable[[list[Any]], None] | None = None) -> None:
        self._write = write
        self._what = what
        self._done = done
        self._failed = failed
        self._waiting: list[tuple[int, Any]] = []
        self._in_flight = 0

    def add(self, item_id: int, payload: Any, *, later: bool = False) -> None:
        """Write `item_id` now, or with the write after the one in flight (`later`: only
        when something else flushes)."""
        self._waiting.append((item_id, payload))
        if not self._in_flight and not later:
            self.flush()

    def flush(self) -> None:
        if not self._waiting:
            return
        batch, self._waiting = self._waiting, []
        self._in_flight += 1
        d = self._write([item_id for item_id, _ in batch])
        d.addCallbacks(self._written, self._not_written, callbackArgs=(batch,),
                       errbackArgs=(batch,))

    def _written(self, _: None, batch: list[tuple[int, Any]]) -> None:
        self._in_flight -= 1
        if self._done is not None:
            self._done([payload for _, payload in batch])
        if not self._in_flight:
            self.flush()

    def _not_written(self, failure: Failure, batch: list[tuple[int, Any]]) -> None:
        self._in_flight -= 1
        log.failure("could not " + self._what, failure, n=len(batch), event="store.error")
        if self._failed is not None:
            self._failed([payload for _, payload in batch])
        if not self._in_flight:
            self.flush()
