"""Whether a sender may start a submit now, for SMPP and HTTP alike: the account's
throughput (a token bucket) and how many of its submits still wait for the store.

An SMPP session has an `Admission` of its own (throughput is per session, S7); HTTP
requests of an account share one (`AccountAdmissions`), since HTTP has no session. An
HTTP batch takes a token per message: it is admitted while the bucket holds a token and
may leave it in debt, so batches keep to the account's rate on average without a batch
larger than the bucket ever being refused outright.
"""
from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from gateway.core.throttle import TokenBucket
from gateway.model import Account
from gateway.smpp.constants import CommandStatus

__all__ = ["AccountAdmissions", "Admission"]

# Enum members read per message, bound once (smpp/constants.py says why)
_ROK, _RMSGQFUL, _RTHROTTLED = (
    CommandStatus.ESME_ROK, CommandStatus.ESME_RMSGQFUL, CommandStatus.ESME_RTHROTTLED)


class Admission:
    """The throughput and pending limits of one sender."""

    __slots__ = ("_bucket", "_clock", "max_pending", "pending")

    def __init__(self, clock: IReactorTime, rate: float, max_pending: int) -> None:
        self._clock = clock
        self._bucket = TokenBucket(rate, clock.seconds())
        self.max_pending = max_pending
        self.pending = 0  # submits admitted and not yet answered by the store

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def set_rate(self, rate: float) -> None:
        """A new throughput limit (the account changed); a changed one starts full."""
        if rate != self._bucket.rate:
            self._bucket = TokenBucket(rate, self._clock.seconds())

    def admit(self, messages: int = 1) -> CommandStatus:
        """ESME_ROK, taking `messages` tokens, if a submit may start now; else the status to
        refuse it with: ESME_RMSGQFUL (too many waiting for the store) or ESME_RTHROTTLED."""
        if self.pending >= self.max_pending:
            return _RMSGQFUL
        if not self._bucket.try_take(self._clock.seconds(), messages):
            return _RTHROTTLED
        return _ROK

    def retry_after(self) -> float:
        """Seconds until a throttled sender has a token again."""
        return self._bucket.wait_time(self._clock.seconds())

    def track(self, d: Deferred) -> Deferred:
        """Count `d` among the submits waiting for the store until it fires."""
        self.pending += 1
        return d.addBoth(self._done, 1)

    def hold(self) -> None:
        """Count a submit that waits to be handed on with others (`release_with`)."""
        self.pending += 1

    def release_with(self, d: Deferred, held: int) -> Deferred:
        """`held` submits counted by `hold` wait for `d` now: uncount them when it fires."""
        return d.addBoth(self._done, held)

    def _done(self, result: Any, count: int) -> Any:
        self.pending -= count
        return result


class AccountAdmissions:
    """One Admission per account, for the HTTP API."""

    def __init__(self, clock: IReactorTime, max_pending: int) -> None:
        self._clock = clock
        self._max_pending = max_pending
        self._by_account: dict[str, Admission] = {}

    def of(self, account: Account) -> Admission:
        admission = self._by_account.get(account.system_id)
        if admission is None:
            admission = Admission(self._clock, account.throughput, self._max_pending)
            self._by_account[account.system_id] = admission
        else:
            admission.set_rate(account.throughput)
        return admission
