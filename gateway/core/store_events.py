"""What this node does when the store tells it about the other nodes' work (ports.
StoreListener): wake the fan-out for an account's new unclaimed receipts, the webhook
sender for due webhooks, the settings for an admin change; and start over from the store
after its connection was lost."""
from __future__ import annotations

from typing import Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from gateway.core.delivery import Delivery, Owner
from gateway.core.ports import ClusterStore

__all__ = ["StoreEvents"]

log = Logger()


class Webhooks(Protocol):
    def items_queued(self) -> None: ...

    def resync(self) -> None: ...


class Settings(Protocol):
    def check(self) -> Deferred[None] | None: ...


class StoreEvents:
    def __init__(self, *, store: ClusterStore, owner: Owner, delivery: Delivery,
                 webhooks: Webhooks | None, settings: Settings) -> None:
        self._store = store
        self._owner = owner
        self._delivery = delivery
        self._webhooks = webhooks
        self._settings = settings

    def outbox_queued(self, account: str) -> None:
        self._delivery.items_queued(account)

    def webhooks_queued(self) -> None:
        if self._webhooks is not None:
            self._webhooks.items_queued()

    def settings_changed(self) -> None:
        self._settings.check()

    def reconnected(self) -> None:
        """A commit whose answer was lost may have left items claimed by this node that
        memory does not hold: let every claim go and claim afresh (an item on the wire
        may then go out twice: at least once, never lost)."""
        log.info("the store's connection came back: claiming receipts and webhooks afresh")
        self._delivery.forget_claims()
        d = self._store.release_claims(self._owner.owner)
        d.addCallback(lambda _: self._delivery.wake_all())
        if self._webhooks is not None:
            d.addCallback(lambda _: self._webhooks.resync())
        d.addErrback(lambda f: log.failure("letting go of this node's claims failed", f))
