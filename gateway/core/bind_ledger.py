"""Binds counted over every node sharing the store: `max_binds` is an account's limit
across the cluster (2 binds on one node and 1 on another are 3)."""
from __future__ import annotations

from itertools import count

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from gateway.core.accounts import BindRejected
from gateway.core.delivery import Owner
from gateway.core.ports import ClusterStore
from gateway.model import Account, BindKind
from gateway.smpp.constants import CommandStatus

__all__ = ["BindLedger"]

log = Logger()


class BindLedger:
    """Records this node's binds in the store; a bind over the limit is refused there,
    atomically, so binds racing on two nodes cannot both pass."""

    def __init__(self, store: ClusterStore, owner: Owner, clock: IReactorTime) -> None:
        self._store = store
        self._owner = owner
        self._clock = clock
        self._ids = count(1)

    def claim(self, account: Account, kind: BindKind) -> Deferred[int]:
        """Fire with the bind's id once it is counted, or fail with BindRejected
        (ESME_RBINDFAIL) when `account` has max_binds binds already."""
        bind_id = next(self._ids)
        d = self._store.add_bind(self._owner.owner, bind_id, account.system_id, kind.value,
                                 account.max_binds, self._clock.seconds())

        def counted(ok: bool) -> int:
            if not ok:
                raise BindRejected(
                    CommandStatus.ESME_RBINDFAIL,
                    f"{account.system_id!r} already has {account.max_binds} binds")
            return bind_id

        return d.addCallback(counted)

    def release(self, bind_id: int) -> None:
        d = self._store.remove_bind(self._owner.owner, bind_id)
        d.addErrback(lambda f: log.failure("could not remove bind {bind_id}", f,
                                           bind_id=bind_id))
