"""Slows password guessing, for SMPP binds and HTTP Basic alike: when an attempt may be
checked is decided as it starts, by source address and by account, before anything looks
at the password."""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime

__all__ = ["Admission", "AttemptPolicy", "LoginLimiter", "TooManyAttempts"]

# Theory of operation
# -------------------
# An attempt is (ip, account, guess); `guess` is the caller's keyed fingerprint of the
# password (credentials.CredentialChecker.fingerprint). The limiter only says WHEN the
# attempt may be checked. Nothing looks at the password before that moment, so a right
# guess is answered no sooner than a wrong one would be: waiting only for failures would
# hand the attacker the one fast answer.
#
# Tallies. Failures are counted per source IP, per (IP, account) pair and per account, each
# forgotten after `forget_after` quiet seconds. A success clears its IP's and pair's count,
# not the account's: a customer logging in must not wipe out an attack from elsewhere.
#
# Clean attempts: from an IP with fewer than `free_attempts` failures, on an account it has
# not failed on that often. They are checked at once while the IP's failures plus its
# attempts in flight stay below `free_attempts`; the next ones wait in the IP's queue
# (FIFO) for those outcomes, so guesses sent in parallel cannot overtake the count. An IP
# whose checks succeed stays clean: a customer binding many accounts at once from one
# address goes at the verifier's pace. Another IP's attempts are never held up by these.
#
# Suspicious attempts (the IP, or the pair, has `free_attempts` failures) get a slot when
# they leave the queue:  slot = max over the chains that apply of
#     max(now, chain.last_slot) + base_delay * 2**n  (capped at max_delay)
# The chains are the IP's (when it is the dirty one), the pair's (likewise) and always the
# account's; n counts the chain's failures plus its attempts in flight, beyond
# `free_attempts` (the pair's: those holding a turn; the account's: failures only). So
# 100 guesses sent at once get slots 0.5, 1.5, 3.5, 7.5, 15.5, 23.5 s... from now, as if
# sent one after another, and the account's chain spaces out the guesses of many
# addresses at one account. A slot more than `max_wait` away is refused at once
# (TooManyAttempts), unchecked and taking no slot: waiting attempts stay few, so memory
# and connections held stay bounded.
#
# The same guess again. Attempts with the same (ip, account, guess) while one is queued or
# in flight join it: the same turn, one outcome, counted once. Repeating a guess teaches
# nothing, and a restart's bind storm (one ESME, one password, 1,000 binds) is one attempt.
# The group's outcome is the first real one (right or wrong) any member reports; members
# that went unchecked (their connection closed) do not end it while others still check.
#
# Settled at once. A check that needs no waiting (a password remembered as right a moment
# ago) may skip the Admission: `settle_at_once` lets it run when `admit` would have let it
# through at once and alone, and counts its success as `done(True)` would. Nothing happens
# in between, so nothing can tell the two apart, and nothing about the password is looked
# at before the same decision is made. A failure is never settled this way: it goes
# through `admit` and is counted there.

MAX_TRACKED = 100_000  # entries per table; beyond, idle ones are forgotten oldest first
_ACCOUNT_KEY_LENGTH = 64  # longer names (never valid) share a tally
_MAX_EXPONENT = 32
_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True)
class AttemptPolicy:
    """See the theory of operation above; durations in seconds."""

    free_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 60.0
    forget_after: float = 300.0

    def delay(self, excess: int) -> float:
        return min(self.base_delay * 2 ** min(max(excess, 0), _MAX_EXPONENT), self.max_delay)


class TooManyAttempts(Exception):
    """This attempt's turn would come more than max_wait from now: refused, unchecked."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many attempts; try again in {max(1, math.ceil(retry_after))} s")
        self.retry_after = retry_after


class _Tally:
    __slots__ = ("failures", "last_failure", "last_slot", "running")

    def __init__(self) -> None:
        self.failures = 0
        self.last_failure = 0.0
        self.last_slot = 0.0
        self.running = 0  # attempts admitted or holding a slot, not finished

    def decay(self, now: float, forget_after: float) -> None:
        if self.failures and now - self.last_failure > forget_after:
            self.failures = 0

    def idle(self) -> bool:
        return self.failures == 0 and self.running == 0


class _Source(_Tally):
    __slots__ = ("again", "groups", "ip", "pumping", "queue")

    def __init__(self, ip: str) -> None:
        super().__init__()
        self.ip = ip
        self.queue: deque[_Group] = deque()
        self.groups: dict[tuple[str, bytes], _Group] = {}
        self.pumping = False
        self.again = False

    def idle(self) -> bool:
        return super().idle() and not self.groups


class _State(Enum):
    QUEUED = "queued"
    SLOTTED = "slotted"
    ADMITTED = "admitted"
    DONE = "done"


class _Group:
    """The attempts of one IP with one (account, guess): one turn, one outcome."""

    __slots__ = ("account", "guess", "max_wait", "members", "pair", "slot", "source", "state",
                 "timer", "waiters")

    def __init__(self, source: _Source, account: str, guess: bytes, max_wait: float) -> None:
        self.source = source
        self.account = account
        self.guess = guess
        self.max_wait = max_wait
        self.state = _State.QUEUED
        self.waiters: list[Deferred[Admission]] = []
        self.pair: _Tally | None = None  # while it holds a slot: the pair counting it
        self.slot = 0.0
        self.timer: IDelayedCall | None = None
        self.members = 0  # admissions handed out and not reported yet


class Admission:
    """An attempt's permission to be checked now. `done(ok)` must be called once with the
    outcome: True (right password), False (a failure to count), None (not checked)."""

    __slots__ = ("_group", "_limiter")

    def __init__(self, limiter: LoginLimiter, group: _Group) -> None:
        self._limiter = limiter
        self._group: _Group | None = group

    def done(self, ok: bool | None) -> None:
        group, self._group = self._group, None
        if group is not None:
            self._limiter._finished(group, ok)


class LoginLimiter:
    def __init__(self, clock: IReactorTime, policy: AttemptPolicy = AttemptPolicy(),
                 max_tracked: int = MAX_TRACKED) -> None:
        self._clock = clock
        self.policy = policy
        self._max_tracked = max_tracked
        self._sources: dict[str, _Source] = {}
        self._pairs: dict[tuple[str, str], _Tally] = {}
        self._accounts: dict[str, _Tally] = {}

    def admit(self, ip: str, account: str, guess: bytes,
              max_wait: float | None = None) -> Deferred[Admission]:
        """Fire with an Admission when this attempt may be checked; fail at once with
        TooManyAttempts when that would be more than `max_wait` (at most the policy's)
        from now. Cancelling the Deferred while it waits withdraws the attempt."""
        limit = self.policy.max_wait if max_wait is None else min(max_wait, self.policy.max_wait)
        account = account[:_ACCOUNT_KEY_LENGTH]
        source = self._source(ip)
        group = source.groups.get((account, guess))
        if group is not None:
            return self._join(group, limit)
        group = _Group(source, account, guess, limit)
        source.groups[(account, guess)] = group
        if not source.queue and self._clean(source, ip, account):  # the usual case, made short
            source.running += 1
            group.state = _State.ADMITTED
            group.members = 1
            return succeed(Admission(self, group))
        source.queue.append(group)
        d = self._waiter(group)
        self._pump(source)
        return d

    def settle_at_once(self, ip: str, account: str, guess: bytes,
                       attempt: Callable[[], _T | None]) -> _T | None:
        """An attempt whose check needs no waiting (a remembered password): when `admit`
        would let it through at once and alone, run `attempt()` now and count what it
        returns (not None) as a success, as `admit` and `done(True)` would have; None when
        it was not let through or `attempt()` found no success, and nothing is counted
        then (the caller goes through `admit`). Tracks nothing while it runs: `attempt`
        must not wait."""
        account = account[:_ACCOUNT_KEY_LENGTH]
        source = self._sources.get(ip)
        if source is not None and (source.queue or (account, guess) in source.groups):
            return None  # it would wait in line, or join the same guess in flight
        if not self._clean(source, ip, account):
            return None
        result = attempt()
        if result is not None:
            self._succeeded(source, ip, account)
        return result

    def _clean(self, source: _Source | None, ip: str, account: str) -> bool:
        """Whether an attempt on `account` from `ip` (`source`: its tally, if it has one)
        may be checked right now."""
        policy, free = self.policy, self.policy.free_attempts
        now = self._clock.seconds()
        busy = 0
        if source is not None:
            source.decay(now, policy.forget_after)
            busy = source.failures + source.running
        if busy >= free:
            return False
        pair = self._pairs.get((ip, account))
        if pair is None:
            return True
        pair.decay(now, policy.forget_after)
        return pair.failures < free

    def tracked(self) -> tuple[int, int, int]:
        """How many IPs, (IP, account) pairs and accounts are remembered (for tests)."""
        return len(self._sources), len(self._pairs), len(self._accounts)

    # --- joining, waiting, withdrawing -------------------------------------------------------
    def _join(self, group: _Group, limit: float) -> Deferred[Admission]:
        if group.state is _State.ADMITTED:
            group.members += 1
            return succeed(Admission(self, group))
        if group.state is _State.SLOTTED:
            wait = group.slot - self._clock.seconds()
            if wait > limit:
                return fail(TooManyAttempts(wait - limit))
        return self._waiter(group)

    def _waiter(self, group: _Group) -> Deferred[Admission]:
        d: Deferred[Admission] = Deferred(lambda d: self._withdrawn(group, d))
        group.waiters.append(d)
        return d

    def _withdrawn(self, group: _Group, d: Deferred) -> None:
        if d in group.waiters:
            group.waiters.remove(d)
        if group.waiters or group.state not in (_State.QUEUED, _State.SLOTTED):
            return
        if group.state is _State.SLOTTED:  # its slot stays taken: no rewinding the chains
            group.timer.cancel()
            self._stop(group)
        group.state = _State.DONE
        self._forget_group(group)
        self._tidy_tallies(group.source.ip, group.account)
        self._pump(group.source)

    # --- the queue -----------------------------------------------------------------------------
    def _pump(self, source: _Source) -> None:
        # Admitting fires callbacks that may finish attempts and so come back here: loop
        # instead of recursing (a cached login finishes synchronously).
        if source.pumping:
            source.again = True
            return
        if not source.queue:
            self._tidy(source)
            return
        source.pumping = True
        try:
            while True:
                source.again = False
                ready, refused = self._take(source)
                for group in ready:
                    self._open(group)
                for group, error in refused:
                    for d in group.waiters:
                        d.errback(error)
                if not source.again:
                    break
        finally:
            source.pumping = False
        self._tidy(source)

    def _take(self, source: _Source) -> tuple[list[_Group], list[tuple[_Group, Exception]]]:
        policy, now = self.policy, self._clock.seconds()
        free = policy.free_attempts
        ready: list[_Group] = []
        refused: list[tuple[_Group, Exception]] = []
        queue = source.queue
        source.decay(now, policy.forget_after)
        while queue:
            group = queue[0]
            if group.state is not _State.QUEUED:  # withdrawn
                queue.popleft()
                continue
            pair = self._pairs.get((source.ip, group.account))  # clean logins make none
            if pair is not None:
                pair.decay(now, policy.forget_after)
            if source.failures >= free or (pair is not None and pair.failures >= free):
                queue.popleft()
                pair = self._tally(self._pairs, (source.ip, group.account))
                target = self._tally(self._accounts, group.account)
                target.decay(now, policy.forget_after)
                slot = self._slot(source, pair, target, now)
                if slot - now > group.max_wait:
                    group.state = _State.DONE
                    self._forget_group(group)
                    self._tidy_tallies(source.ip, group.account)
                    refused.append((group, TooManyAttempts(slot - now - group.max_wait)))
                    continue
                source.running += 1
                pair.running += 1
                group.pair = pair  # its running count is the pair's until it ends
                source.last_slot = pair.last_slot = target.last_slot = group.slot = slot
                group.state = _State.SLOTTED
                group.timer = self._clock.callLater(slot - now, self._slot_reached, group)
            elif source.failures + source.running < free:
                queue.popleft()
                source.running += 1
                group.state = _State.ADMITTED
                ready.append(group)
            else:
                break  # wait for the outcome of the attempts in flight
        return ready, refused

    def _slot(self, source: _Source, pair: _Tally, target: _Tally, now: float) -> float:
        policy, free = self.policy, self.policy.free_attempts
        slot = max(now, target.last_slot) + policy.delay(target.failures - free)
        for chain in (source, pair):
            if chain.failures >= free:
                excess = chain.failures + chain.running - free
                slot = max(slot, max(now, chain.last_slot) + policy.delay(excess))
        return slot

    def _stop(self, group: _Group) -> None:
        group.source.running -= 1
        if group.pair is not None:
            group.pair.running -= 1
            group.pair = None

    def _slot_reached(self, group: _Group) -> None:
        group.timer = None
        group.state = _State.ADMITTED
        self._open(group)

    def _open(self, group: _Group) -> None:
        waiters, group.waiters = group.waiters, []
        if not waiters:
            group.members = 1
            self._finished(group, None)
            return
        group.members += len(waiters)
        for d in waiters:
            d.callback(Admission(self, group))

    # --- outcomes ------------------------------------------------------------------------------
    def _finished(self, group: _Group, ok: bool | None) -> None:
        if group.state is not _State.ADMITTED:
            return  # another attempt of the group reported its outcome first
        group.members -= 1
        if ok is None and group.members > 0:
            return  # not checked (gone, say): the others' outcome is the one that counts
        group.state = _State.DONE
        self._stop(group)
        self._forget_group(group)
        source, key = group.source, (group.source.ip, group.account)
        if ok is True:
            self._clear_failures(source, key)
        elif ok is False:
            now = self._clock.seconds()
            for table, name, tally in (
                    (self._sources, source.ip, source),
                    (self._pairs, key, self._tally(self._pairs, key)),
                    (self._accounts, group.account, self._tally(self._accounts, group.account))):
                tally.decay(now, self.policy.forget_after)  # old failures do not add up
                tally.failures += 1
                tally.last_failure = now
                if table.get(name) is tally:  # the most recently failing are kept longest
                    table[name] = table.pop(name)
        self._tidy_tallies(source.ip, group.account)
        self._pump(source)

    def _succeeded(self, source: _Source | None, ip: str, account: str) -> None:
        self._clear_failures(source, (ip, account))
        self._tidy_tallies(ip, account)
        if source is not None:
            self._tidy(source)

    def _clear_failures(self, source: _Source | None, pair_key: tuple[str, str]) -> None:
        """A success: its IP's and pair's failures go, the account's stay."""
        if source is not None:
            source.failures = 0
        pair = self._pairs.get(pair_key)
        if pair is not None:
            pair.failures = 0

    def _forget_group(self, group: _Group) -> None:
        groups = group.source.groups
        key = (group.account, group.guess)
        if groups.get(key) is group:
            del groups[key]

    # --- the tables ----------------------------------------------------------------------------
    def _source(self, ip: str) -> _Source:
        source = self._sources.get(ip)
        if source is None:
            self._make_room(self._sources)
            source = self._sources[ip] = _Source(ip)
        return source

    def _tally(self, table: dict, key) -> _Tally:
        tally = table.get(key)
        if tally is None:
            self._make_room(table)
            tally = table[key] = _Tally()
        return tally

    def _make_room(self, table: dict) -> None:
        """Bounded under a distributed attack: forget the oldest entries with nothing in
        flight (an attempt in flight keeps its entries)."""
        for _ in range(8):
            if len(table) < self._max_tracked:
                return
            key = next(iter(table))
            tally = table.pop(key)
            if tally.running or getattr(tally, "groups", None):
                table[key] = tally  # busy: to the back

    def _tidy(self, source: _Source) -> None:
        if source.idle() and self._sources.get(source.ip) is source:
            del self._sources[source.ip]

    def _tidy_tallies(self, ip: str, account: str) -> None:
        """A clean login leaves nothing behind; failures and future slots are kept."""
        now = self._clock.seconds()
        for table, key in ((self._pairs, (ip, account)), (self._accounts, account)):
            tally = table.get(key)
            if tally is not None and tally.idle() and tally.last_slot <= now:
                del table[key]
