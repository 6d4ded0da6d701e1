"""The single DLR/MO fan-out: from the persistent outbox to the account's least-busy bind,
or to its webhook.

Theory of operation
-------------------
Every receipt and every MO is first committed to the store's outbox (`Store.finish`
writes it in the same transaction as the final state; the MO path queues its own), one
item per leg (core/fanout.py decides the legs), then handed to `enqueue`. WEBHOOK items
go to the webhook leg (http/webhooks.py: its own persistent retry schedule); what
follows is the SMPP leg. The store is the truth; memory only holds a bounded
working set per account:

- `queue`  items loaded and waiting for a bind with room, oldest first;
- `known`  ids in the queue or on the wire, so a reload never duplicates one;
- `high_water` the greatest id loaded; `backlog` says the store may hold
  items above it (or below, skipped while loading) that memory does not.

An item leaves `known` only after its removal from the outbox has committed,
i.e. after the customer's deliver_sm_resp: a crash before that re-sends it on
the next bind (at-least-once, never lost). Removals go in bulk, like the
store's group commit: one `ack_outbox_items` in flight, and the items answered
meanwhile wait for it and go together in the next. Items are skipped, not
sent, once older than the expiry; a periodic sweep deletes them from the store.

When no receiver is bound nothing is kept in memory (`backlog` is set); the
next bind wakes the account and the outbox is paged in from the store.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from gateway.core.binds import BindRegistry, DeliveryChannel
from gateway.core.ports import Store
from gateway.model import Channel, OutboxItem

log = Logger()


class WebhookLeg(Protocol):
    """Where WEBHOOK items go once committed (http/webhooks.py)."""

    def enqueue(self, item: OutboxItem) -> None: ...


@dataclass(frozen=True, kw_only=True)
class DeliveryConfig:
    retry_delay: float = 5.0  # after the customer answered a deliver_sm with an error
    expiry: float = 72 * 3600.0  # receipts not acknowledged by then are dropped
    sweep_interval: float = 60.0
    memory_per_account: int = 5000


@dataclass
class _AccountQueue:
    queue: deque[OutboxItem] = field(default_factory=deque)
    known: set[int] = field(default_factory=set)
    high_water: int = 0
    backlog: bool = True  # at start nobody knows what the store holds
    loading: bool = False


class Delivery:
    def __init__(
        self, store: Store, binds: BindRegistry, clock: IReactorTime, config: DeliveryConfig,
        webhooks: WebhookLeg | None = None,
        delivered: Callable[[OutboxItem], None] | None = None,
    ) -> None:
        self._store = store
        self._delivered = delivered  # told of each item its account acknowledged (metrics)
        # until it is wired (service.py), WEBHOOK items wait in the store for its poll
        self.webhooks = webhooks
        self._binds = binds
        self._clock = clock
        self._config = config
        self._accounts: dict[str, _AccountQueue] = {}
        self._sweeper = LoopingCall(self._sweep)
        self._sweeper.clock = clock
        self._acks_waiting: list[tuple[str, OutboxItem]] = []
        self._acks_in_flight = 0  # ack_outbox_items operations not yet committed

    def start(self) -> None:
        self._sweeper.start(self._config.sweep_interval, now=True)

    def stop(self) -> None:
        if self._sweeper.running:
            self._sweeper.stop()
        if self._acks_waiting:
            # queue them now: the store commits everything queued before it closes
            self._ack_waiting()

    def enqueue(self, item: OutboxItem) -> None:
        """A committed outbox item: push it now if its leg can take it."""
        if item.channel is Channel.WEBHOOK:
            if self.webhooks is not None:
                self.webhooks.enqueue(item)
            return
        aq = self._accounts.get(item.account)
        if aq is None:
            aq = self._accounts[item.account] = _AccountQueue()
        if (
            aq.backlog
            or aq.loading
            or len(aq.queue) >= self._config.memory_per_account
            or not self._binds.has_receiver(item.account)
        ):
            aq.backlog = True  # it is in the store; a later load picks it up
            return
        aq.queue.append(item)
        aq.known.add(item.id)
        aq.high_water = max(aq.high_water, item.id)
        self._pump(item.account, aq)

    def wake(self, account: str) -> None:
        """A receiver bound, or a bind's window freed: push what is waiting."""
        aq = self._accounts.get(account)
        if aq is None:
            aq = self._accounts[account] = _AccountQueue()
        if not self._binds.has_receiver(account):
            self._forget_queue(aq)
            return
        self._pump(account, aq)

    def pending_in_memory(self, account: str) -> int:
        aq = self._accounts.get(account)
        return len(aq.queue) if aq else 0

    # --- internals ---------------------------------------------------------------------------
    def _pump(self, account: str, aq: _AccountQueue) -> None:
        queue = aq.queue
        oldest_allowed = self._clock.seconds() - self._config.expiry
        while queue:
            channel = self._binds.least_busy_receiver(account)
            if channel is None:
                break
            item = queue.popleft()
            if item.created_at < oldest_allowed:
                aq.known.discard(item.id)  # the sweep deletes it from the store
                continue
            self._send(channel, account, item)
        if not queue and aq.backlog and not aq.loading and self._binds.has_receiver(account):
            self._load(account, aq)

    def _send(self, channel: DeliveryChannel, account: str, item: OutboxItem) -> None:
        d = channel.deliver(item)
        d.addCallbacks(
            self._answered, self._not_answered,
            callbackArgs=(account, item), errbackArgs=(account, item),
        )

    def _answered(self, status: int, account: str, item: OutboxItem) -> None:
        if status == 0:
            if self._delivered is not None:
                self._delivered(item)
            self._acks_waiting.append((account, item))
            if not self._acks_in_flight:
                self._ack_waiting()
            return
        log.info("account {account} answered receipt {item_id} with status {status:#x}; "
                 "retrying in {delay}s", account=account, item_id=item.id, status=status,
                 delay=self._config.retry_delay)
        self._clock.callLater(self._config.retry_delay, self._requeue, account, item)
        self.wake(account)

    def _not_answered(self, failure, account: str, item: OutboxItem) -> None:
        # the bind went away or never answered: another bind may take it right now
        self._requeue(account, item)

    def _ack_waiting(self) -> None:
        acks, self._acks_waiting = self._acks_waiting, []
        self._acks_in_flight += 1
        d = self._store.ack_outbox_items([item.id for _, item in acks])
        d.addCallbacks(self._acked, self._ack_failed, callbackArgs=(acks,), errbackArgs=(acks,))

    def _acked(self, _: None, acks: list[tuple[str, OutboxItem]]) -> None:
        self._ack_done()
        accounts = {}
        for account, item in acks:
            aq = self._accounts.get(account)
            if aq is not None:
                aq.known.discard(item.id)
                accounts[account] = aq
        for account, aq in accounts.items():
            self._pump(account, aq)

    def _ack_failed(self, failure, acks: list[tuple[str, OutboxItem]]) -> None:
        self._ack_done()
        log.failure("could not record {n} receipts as delivered", failure, n=len(acks),
                    event="store.error")
        for account, item in acks:
            self._requeue(account, item)

    def _ack_done(self) -> None:
        self._acks_in_flight -= 1
        if not self._acks_in_flight and self._acks_waiting:
            self._ack_waiting()

    def _requeue(self, account: str, item: OutboxItem) -> None:
        aq = self._accounts.get(account)
        if aq is None or item.id not in aq.known:
            return
        if self._binds.has_receiver(account):
            aq.queue.appendleft(item)
            self._pump(account, aq)
        else:
            aq.known.discard(item.id)
            self._mark_backlog(aq, item.id)

    def _forget_queue(self, aq: _AccountQueue) -> None:
        """No receiver left: the store keeps the items, memory lets them go."""
        for item in aq.queue:
            aq.known.discard(item.id)
            self._mark_backlog(aq, item.id)
        aq.queue.clear()

    @staticmethod
    def _mark_backlog(aq: _AccountQueue, dropped_id: int) -> None:
        # the next load starts below the dropped item so it is found again
        aq.backlog = True
        if dropped_id <= aq.high_water:
            aq.high_water = dropped_id - 1

    def _load(self, account: str, aq: _AccountQueue) -> None:
        aq.loading = True
        aq.backlog = False  # an enqueue while loading sets it again
        limit = self._config.memory_per_account
        d = self._store.pending_outbox(account, aq.high_water, limit)

        def loaded(items: list[OutboxItem]) -> None:
            aq.loading = False
            aq.backlog = aq.backlog or len(items) >= limit
            for item in items:
                if item.id not in aq.known:
                    aq.queue.append(item)
                    aq.known.add(item.id)
                aq.high_water = max(aq.high_water, item.id)
            if aq.queue:
                self._pump(account, aq)

        def failed(failure) -> None:
            aq.loading = False
            aq.backlog = True
            log.failure("loading the outbox of {account} failed", failure, account=account,
                        event="store.error")
            self._clock.callLater(self._config.retry_delay, self.wake, account)

        d.addCallbacks(loaded, failed)

    def _sweep(self):
        d = self._store.expire_outbox(self._clock.seconds() - self._config.expiry)
        d.addCallback(lambda n: n and log.info("expired {n} undelivered receipts", n=n))
        d.addErrback(lambda f: log.failure("outbox expiry sweep failed", f))
