"""This gateway process among the nodes sharing one store: its owner id, its heartbeat, and
the takeover of owners that are gone.

Theory of operation
-------------------
Every start of a gateway process joins the store as a new *owner* (ports.ClusterStore)
under its node_id; a node_id a running process holds is refused (NodeIdTaken). What the
process works on carries its owner: the messages it accepted (it dispatches them until
they are final), the outbox and webhook items it claimed (it pushes them), its binds.

Every `heartbeat_interval` the membership proves itself alive and looks for owners that
are gone, i.e. that left (a clean stop), that are an earlier run of its own node_id (the
backend knows the process holding it died), or whose heartbeat is older than `lease`. It
claims one (the store lets one node win), which releases its claims and drops its binds in
the same transaction, then adopts its unfinished messages page by page, handing each page
to the router, which dispatches them as if they had just been accepted, and retires it.
A takeover cut short by a crash is finished by whoever takes over the taker.

A node judges others by their heartbeats only after its own have been succeeding for a
whole lease: after an outage of the store every node's heartbeat is old, and the first
node back must not mistake the others for dead. A node that finds itself taken over (its
heartbeat refused: it was silent too long and another node took its work) must stop at
once: `on_fenced` is called, and the service stops the process.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger

from gateway.core.ports import ClusterStore, NodeIdTaken
from gateway.model import Message

__all__ = ["ClusterConfig", "Membership"]

log = Logger()

JOIN_PATIENCE = 5.0


@dataclass(frozen=True, kw_only=True)
class ClusterConfig:
    lease: float = 15.0  # s without a heartbeat before a node counts as dead
    heartbeat_interval: float = 2.0
    adopt_page: int = 1000  # messages adopted per store call


class Membership:
    """Joins the store as a new owner, heartbeats, and takes over owners that are gone."""

    def __init__(self, *, store: ClusterStore, clock: IReactorTime, config: ClusterConfig,
                 node_id: int, adopt: Callable[[list[Message]], Deferred[None]],
                 on_fenced: Callable[[], None]) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self.node_id = node_id
        self._adopt = adopt
        self._on_fenced = on_fenced
        #: This process's owner id once joined (0 before).
        self.owner = 0
        self._alive_since: float | None = None
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock
        self._busy = False
        self._stopped = False
        self._fenced = False

    async def join(self) -> int:
        """Join as a new owner of node_id. Fails with NodeIdTaken when a live process holds
        it: after `JOIN_PATIENCE` seconds, for a process that just died (a crash, a kill -9)
        lets its node_id go as soon as the database has noticed."""
        deadline = self._clock.seconds() + JOIN_PATIENCE
        while True:
            try:
                self.owner = await self._store.join_cluster(self.node_id,
                                                            self._clock.seconds())
                break
            except NodeIdTaken:
                if self._clock.seconds() >= deadline:
                    raise
                await deferLater(self._clock, 0.25, lambda: None)
        now = self._clock.seconds()
        self._alive_since = now
        log.info("joined the store as owner {owner} of node {node_id}", owner=self.owner,
                 node_id=self.node_id)
        return self.owner

    def start(self) -> None:
        """Heartbeat and take over gone owners every heartbeat_interval (the first now)."""
        self._stopped = False
        self._loop.start(self._config.heartbeat_interval, now=True)

    def stop(self) -> None:
        self._stopped = True
        if self._loop.running:
            self._loop.stop()

    def leave(self) -> Deferred[None]:
        """A clean stop: the owner is gone at once, its work free for the others."""
        self.stop()
        if not self.owner or self._fenced:
            return succeed(None)
        return self._store.leave_cluster(self.owner)

    def _tick(self) -> Deferred[None] | None:
        if self._busy:  # a takeover still adopting: heartbeats go on from the store loop
            return ensureDeferred(self._beat())
        return ensureDeferred(self._heartbeat_and_take_over())

    async def _beat(self) -> bool:
        now = self._clock.seconds()
        try:
            alive = await self._store.heartbeat(self.owner, now)
        except Exception:
            log.failure("heartbeat of owner {owner} failed", owner=self.owner)
            self._alive_since = None
            return False
        if not alive:
            self._fenced = True
            log.critical("owner {owner} of node {node_id} was taken over by another node "
                         "(silent for longer than the lease): stopping", owner=self.owner,
                         node_id=self.node_id)
            self.stop()
            self._on_fenced()
            return False
        if self._alive_since is None:
            self._alive_since = now
        return True

    async def _heartbeat_and_take_over(self) -> None:
        if not await self._beat() or self._stopped:
            return
        now = self._clock.seconds()
        settled = now - self._alive_since >= self._config.lease
        self._busy = True
        try:
            await self._take_over(self._config.lease if settled else None)
        except Exception:
            log.failure("taking over the work of a stopped node failed; retrying")
        finally:
            self._busy = False

    async def _take_over(self, lease: float | None) -> None:
        while not self._stopped:
            gone = await self._store.claim_dead_owner(self.owner, self._clock.seconds(), lease)
            if gone is None:
                return
            adopted = 0
            while not self._stopped:
                page = await self._store.adopt_messages(gone, self.owner,
                                                        self._config.adopt_page)
                if not page:
                    break
                await self._adopt(page)
                adopted += len(page)
            if self._stopped:
                return
            await self._store.retire_owner(gone)
            log.info("took over owner {gone}: {n} unfinished messages re-dispatched",
                     gone=gone, n=adopted)
