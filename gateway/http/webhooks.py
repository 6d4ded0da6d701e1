"""The webhook leg of the fan-out (H4): POST committed WEBHOOK outbox items, signed, until
their receiver answers 2xx.

Theory of operation
-------------------
Like core/delivery.py for SMPP, the store is the truth and memory a bounded working set.
A WEBHOOK item is committed with its event (core/fanout.py), claimed by this node when a
request slot was free as it was written (`wants`; core/delivery.py marks it), then handed
to `enqueue`, which POSTs it at once when its URL is not backing off; otherwise it is
released (unclaimed) and left in the store. A poll every `poll_interval` claims
`claim_webhooks(owner, now, free slots, exclude_urls=backing off)`: that is how retries
happen, how items survive a restart, and how the nodes sharing a store share the work:
an item is claimed by one node at a time, and a failed attempt unclaims it for whichever
node's poll finds it due next. While the store may hold more due items than were loaded
(an enqueue found no free slot, or a load filled its page), freed slots are refilled at
once, as soon as half are free, so a burst drains at the receivers' pace.

- `known` holds the ids in flight or whose outcome is being written: an id leaves it only
  once its `webhooks_delivered` (or `webhook_failed`) has committed, so neither the poll
  nor a late load ever sends it again meanwhile. Ids that leave while a load is in flight
  are remembered until it returns (its answer may predate the commit).
- A 2xx status is a delivery: the ids go in bulk, one `webhooks_delivered` in flight and
  those answered meanwhile in the next. Anything else is a failed attempt: a non-2xx
  status (3xx too: redirects are not followed), the timeout, or a connection, DNS or TLS
  error. The item is retried `retry_initial * 2**(attempts-1)` seconds later (capped at
  `retry_max`, +-10% jitter), or dead-lettered (`dead_at`, kept for an admin's replay)
  once `dead_letter_after` seconds have passed since it was created.
- Per-URL backoff (a circuit breaker): a failure blocks its URL until the later of the
  item's next attempt and the URL's own backoff, which doubles with each failed probe.
  Once that time has passed, one due item probes the URL while the others wait; a 2xx
  clears the backoff. A receiver down for an hour sees one request per backoff period,
  not every queued event every second; other URLs are not held up.
- Each attempt is bounded by `timeout` as a whole, headers and body alike: one DelayedCall
  on the injected clock, for the oldest attempt's deadline, cancels whatever is due when
  it fires (every attempt has the same timeout, so the oldest is due first), not a timer
  set and cancelled per attempt. Response bodies are read and discarded, at most
  64 KiB, then the connection is dropped.

Signing
-------
Every request carries::

    Content-Type: application/json
    User-Agent: smsgw-webhooks/1
    X-Smsgw-Event-Id: <event_id>            (the same on every retry: de-duplicate by it)
    X-Smsgw-Timestamp: <unix seconds, integer, time of this attempt>
    X-Smsgw-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.".encode() + body)>

`secret` is the account's webhook secret (UTF-8) and `body` the exact request bytes. A
receiver recomputes the HMAC, compares in constant time and rejects timestamps more than
five minutes away from its clock (`verify` in gateway/http/signing.py does all three).
An account without a secret gets its webhooks unsigned: X-Smsgw-Signature is left out
(a key-less HMAC proves nothing) and this is logged once per account. The service gives
every account that sets a webhook URL a secret, so this is an edge case.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.internet import error as neterror
from twisted.internet.defer import CancelledError, Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol as BodyProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.error import SchemeNotSupported

from gateway.core.delivery import Owner
from gateway.core.ports import WebhookStore
from gateway.http.signing import sign, verify
from gateway.http.webhook_connection import BadResponse
from gateway.model import Channel, OutboxItem

__all__ = ["HttpPoster", "WebhookConfig", "WebhookSender", "sign", "verify"]

log = Logger()

USER_AGENT = "smsgw-webhooks/1"
MAX_BODY = 64 * 1024  # response bytes read before the connection is dropped
# Enum members read per message, bound once (smpp/constants.py says why)
_WEBHOOK = Channel.WEBHOOK


@dataclass(frozen=True, kw_only=True)
class WebhookConfig:
    timeout: float = 10.0  # per attempt, reading (and discarding) the response included
    retry_initial: float = 5.0  # before the 2nd attempt; doubles with each failure
    retry_max: float = 600.0  # cap between attempts
    dead_letter_after: float = 86400.0  # since created_at: a failing item is then given up
    concurrency: int = 50  # requests in flight at once
    poll_interval: float = 1.0


class HttpPoster(Protocol):
    """What the sender posts through: http/webhook_client.WebhookClient (StubTreq, which
    offers the same method, in tests)."""

    def post(self, url: str, data: bytes, **kwargs: Any) -> Deferred[Any]: ...


@dataclass(eq=False)
class _Attempt:
    item: OutboxItem
    probe: bool
    deadline: float  # when it times out
    deferred: Deferred[Any] | None = None
    status: int | None = None
    timed_out: bool = False


@dataclass
class _Backoff:
    """A URL that failed: blocked until `until`; then `probe` (an item id) tests it."""

    until: float
    level: int = 1  # failed probes so far (+1): the URL's own doubling
    probe: int | None = None


class _Discard(BodyProtocol):
    """Reads a response body into nothing; drops the connection after MAX_BODY bytes."""

    def __init__(self) -> None:
        self.done: Deferred[None] = Deferred(lambda _: self._drop())
        self._left = MAX_BODY

    def dataReceived(self, data: bytes) -> None:
        self._left -= len(data)
        if self._left < 0 and not self.done.called:
            self.done.callback(None)
            self._drop()

    def connectionLost(self, reason: Failure = neterror.ConnectionDone()) -> None:
        if not self.done.called:
            self.done.callback(None)  # done or cut short: the status is what counts

    def _drop(self) -> None:
        if self.transport is not None:
            self.transport.stopProducing()


class WebhookSender:
    """POSTs WEBHOOK outbox items until a 2xx; see the module docstring."""

    def __init__(self, store: WebhookStore, http: HttpPoster, clock: IReactorTime,
                 config: WebhookConfig, secret_for: Callable[[str], str], owner: Owner,
                 rng: random.Random | None = None,
                 delivered: Callable[[OutboxItem], None] | None = None) -> None:
        self._store = store
        self._owner = owner
        self._on_delivered = delivered  # told of each item answered 2xx (metrics)
        self._http = http
        self._clock = clock
        self._config = config
        self._secret_for = secret_for
        self._rng = rng or random.Random()
        self._attempts: dict[int, _Attempt] = {}  # in the order they began: oldest first
        self._timeouts: IDelayedCall | None = None  # for the oldest attempt's deadline
        self._known: set[int] = set()
        self._backoff: dict[str, _Backoff] = {}
        self._acks_waiting: list[int] = []
        self._acks_in_flight = 0  # webhooks_delivered not yet committed (1, more in stop)
        self._failures_in_flight = 0
        self._releases_in_flight = 0
        self._loading = False
        self._left_during_load: set[int] = set()
        # the store may hold due items memory has not seen: one enqueue found no free slot,
        # or the last load filled its page; freed slots are then refilled at once
        self._backlog = False
        self._unsigned_logged: set[str] = set()
        self._stopped = False
        self._idle_waiters: list[Deferred[None]] = []
        self._counts = {"delivered": 0, "failed": 0, "dead": 0}
        self._poller = LoopingCall(self._poll)
        self._poller.clock = clock

    # --- public ------------------------------------------------------------------------------
    def start(self) -> None:
        """Poll the store every poll_interval (the first poll now)."""
        self._stopped = False
        if not self._poller.running:
            self._poller.start(self._config.poll_interval, now=True)

    def stop(self) -> Deferred[None]:
        """Stop polling and cancel the requests in flight (they stay due in the store);
        fires once the outcomes already known are written: close the store after it."""
        self._stopped = True
        if self._poller.running:
            self._poller.stop()
        if self._timeouts is not None:
            self._timeouts.cancel()
            self._timeouts = None
        for attempt in list(self._attempts.values()):
            if attempt.deferred is not None:
                attempt.deferred.cancel()
        if self._acks_waiting:
            self._write_acks()  # now, even beside one in flight: the store closes next
        if self._idle():
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._idle_waiters.append(d)
        return d

    def wants(self) -> bool:
        """Whether an item written now would be POSTed at once: a request slot is free."""
        return not self._stopped and len(self._attempts) < self._config.concurrency

    def enqueue(self, item: OutboxItem) -> None:
        """A just-committed WEBHOOK item: POST it now if this node claimed it, a slot is
        free and its URL is not backing off; otherwise the store keeps it for a poll."""
        if item.channel is not _WEBHOOK or item.id in self._known:
            return
        mine = item.claimed_by == self._owner.owner
        probe = None
        if not self._stopped and len(self._attempts) < self._config.concurrency:
            probe = self._url_state(item.url, self._clock.seconds())
        if probe is None:
            self._backlog = True
            if mine:
                self._release([item.id])
            return
        if not mine:
            self._backlog = True  # another node's, or nobody's yet: the poll claims it
            return
        self._send(item, probe)

    def items_queued(self) -> None:
        """Another node queued items for anyone to claim: look now, not at the next poll."""
        self._backlog = True
        self._refill()

    def resync(self) -> None:
        """This node's claims were let go (a lost store connection): claim afresh; the
        requests in flight finish as usual."""
        self._backlog = True
        self._poll()

    def clear_backoff(self, url: str | None = None) -> None:
        """Forget `url`'s backoff (every URL's when None), e.g. after dead letters to a
        receiver that is fixed now were replayed: they go with the next poll."""
        if url is None:
            self._backoff.clear()
        else:
            self._backoff.pop(url, None)

    def stats(self) -> dict[str, int]:
        """Counters for the admin API (delivered/failed/dead since start)."""
        now = self._clock.seconds()
        return {"in_flight": len(self._attempts), **self._counts,
                "urls_backing_off": sum(1 for b in self._backoff.values()
                                        if b.until > now or b.probe is not None)}

    # --- sending -----------------------------------------------------------------------------
    def _url_state(self, url: str, now: float) -> bool | None:
        """None: `url` is backing off (or being probed); else whether a send probes it."""
        backoff = self._backoff.get(url)
        if backoff is None:
            return False
        if backoff.until > now or backoff.probe is not None:
            return None
        return True

    def _headers(self, item: OutboxItem, body: bytes, timestamp: int) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "X-Smsgw-Event-Id": item.event_id, "X-Smsgw-Timestamp": str(timestamp)}
        secret = self._secret_for(item.account)
        if secret:
            headers["X-Smsgw-Signature"] = sign(secret, timestamp, body)
        elif item.account not in self._unsigned_logged:
            self._unsigned_logged.add(item.account)
            log.warn("account {account} has no webhook secret: its webhooks are sent "
                     "unsigned", account=item.account)
        return headers

    def _send(self, item: OutboxItem, probe: bool) -> None:
        now = self._clock.seconds()
        timeout = self._config.timeout
        attempt = _Attempt(item=item, probe=probe, deadline=now + timeout)
        self._attempts[item.id] = attempt
        if self._timeouts is None:  # no older attempt waits (or its expiry is under way)
            self._timeouts = self._clock.callLater(timeout, self._time_out_due)
        self._known.add(item.id)
        if probe:
            self._backoff[item.url].probe = item.id
        body = item.payload.encode()
        headers = self._headers(item, body, int(now))
        d = maybeDeferred(self._http.post, item.url, data=body, headers=headers,
                          allow_redirects=False, unbuffered=True)
        attempt.deferred = d
        d.addCallback(self._read_body, attempt)
        d.addBoth(self._finished, attempt)

    def _time_out_due(self) -> None:
        """Cancel the attempts whose deadline has come, oldest first; the timer is set
        again first, for the oldest left, so attempts begun meanwhile (a cancelled one's
        outcome refills its slot) find it set."""
        self._timeouts = None
        now = self._clock.seconds()
        due = []
        for attempt in self._attempts.values():
            if attempt.deadline > now:
                self._timeouts = self._clock.callLater(attempt.deadline - now,
                                                       self._time_out_due)
                break
            due.append(attempt)
        for attempt in due:
            attempt.timed_out = True
            if attempt.deferred is not None:
                attempt.deferred.cancel()

    @staticmethod
    def _read_body(response: Any, attempt: _Attempt) -> Deferred[None]:
        attempt.status = response.code
        discard = _Discard()
        response.deliverBody(discard)
        return discard.done

    def _finished(self, result: object, attempt: _Attempt) -> None:
        try:
            self._outcome(result, attempt)
        except Exception:
            log.failure("handling the outcome of webhook {item_id} failed",
                        item_id=attempt.item.id)
            self._forget(attempt.item.id)
        self._refill()
        self._check_idle()

    def _refill(self) -> None:
        """With a backlog, load more as soon as half the slots are free, instead of at
        the next poll: a burst of events drains at the receivers' pace, not the poll's."""
        free = self._config.concurrency - len(self._attempts)
        if self._backlog and free >= max(1, self._config.concurrency // 2):
            self._poll()

    def _outcome(self, result: object, attempt: _Attempt) -> None:
        item = attempt.item
        self._attempts.pop(item.id, None)
        backoff = self._backoff.get(item.url)
        if backoff is not None and backoff.probe == item.id:
            backoff.probe = None
        status = attempt.status
        if status is not None and 200 <= status < 300:
            self._delivered(item)
        elif self._stopped:
            self._forget(item.id)  # cancelled by stop(): it stays due in the store
        elif status is not None:
            self._failed(item, f"HTTP {status}", attempt.probe)
        elif attempt.timed_out:
            self._failed(item, f"timeout after {self._config.timeout:g}s", attempt.probe)
        else:
            self._failed(item, _network_error(result, item), attempt.probe)

    # --- outcomes ----------------------------------------------------------------------------
    def _delivered(self, item: OutboxItem) -> None:
        self._counts["delivered"] += 1
        if self._on_delivered is not None:
            self._on_delivered(item)
        self._backoff.pop(item.url, None)
        self._acks_waiting.append(item.id)
        if not self._acks_in_flight:
            self._write_acks()

    def _write_acks(self) -> None:
        ids, self._acks_waiting = self._acks_waiting, []
        self._acks_in_flight += 1
        d = maybeDeferred(self._store.webhooks_delivered, ids)
        d.addCallbacks(self._acked, self._ack_failed, callbackArgs=(ids,), errbackArgs=(ids,))

    def _acked(self, _: None, ids: list[int]) -> None:
        self._acks_in_flight -= 1
        for item_id in ids:
            self._forget(item_id)
        if self._acks_waiting and not self._acks_in_flight:
            self._write_acks()
        self._check_idle()

    def _ack_failed(self, failure: Failure, ids: list[int]) -> None:
        self._acks_in_flight -= 1
        log.failure("could not record {n} webhooks as delivered", failure, n=len(ids))
        if self._stopped:  # still in the store: sent again after the restart
            for item_id in ids:
                self._forget(item_id)
        else:  # kept known (never sent again) and written with the next poll
            self._acks_waiting[:0] = ids
        self._check_idle()

    def _failed(self, item: OutboxItem, error: str, probe: bool) -> None:
        now = self._clock.seconds()
        attempts = item.attempts + 1
        self._counts["failed"] += 1
        backoff = self._backoff.get(item.url)
        if backoff is None:
            backoff = self._backoff[item.url] = _Backoff(until=now)
        elif probe:
            backoff.level += 1
        url_until = now + self._delay(backoff.level)
        if now - item.created_at >= self._config.dead_letter_after:
            self._counts["dead"] += 1
            next_at, dead_at = now, now
            log.warn("webhook {event_id} to {url} dead-lettered after {attempts} attempts: "
                     "{error}", event_id=item.event_id, url=item.url, attempts=attempts,
                     error=error)
        else:
            next_at, dead_at = now + self._delay(attempts), None
            log.info("webhook {event_id} to {url} failed ({error}), attempt {attempts}; "
                     "next in {delay:.0f}s", event_id=item.event_id, url=item.url,
                     error=error, attempts=attempts, delay=next_at - now)
        backoff.until = max(backoff.until, next_at, url_until)
        self._failures_in_flight += 1
        d = maybeDeferred(self._store.webhook_failed, item.id, attempts, next_at, error,
                          dead_at)
        d.addErrback(lambda f: log.failure("could not record the failure of webhook "
                                           "{item_id}", f, item_id=item.id))
        d.addBoth(self._failure_written, item.id)

    def _failure_written(self, _: object, item_id: int) -> None:
        self._failures_in_flight -= 1
        self._forget(item_id)  # written (or not: then the poll finds it due again)
        self._check_idle()

    def _delay(self, attempts: int) -> float:
        base = self._config.retry_initial * 2.0 ** min(attempts - 1, 64)
        return min(self._config.retry_max, base) * self._rng.uniform(0.9, 1.1)

    def _forget(self, item_id: int) -> None:
        self._known.discard(item_id)
        if self._loading:
            self._left_during_load.add(item_id)

    # --- polling -----------------------------------------------------------------------------
    def _poll(self) -> None:
        if self._stopped or self._loading:
            return
        now = self._clock.seconds()
        self._forget_stale_backoffs(now)
        if self._acks_waiting and not self._acks_in_flight:
            self._write_acks()  # a failed write, retried
        free = self._config.concurrency - len(self._attempts)
        if free <= 0:
            return
        blocked = sorted(url for url in self._backoff if self._url_state(url, now) is None)
        self._loading = True
        self._left_during_load = set()
        d = maybeDeferred(self._store.claim_webhooks, self._owner.owner, now, free,
                          exclude_urls=blocked)
        d.addCallbacks(self._loaded, self._load_failed, callbackArgs=(free,))

    def _loaded(self, items: list[OutboxItem], limit: int) -> None:
        self._loading = False
        self._backlog = len(items) >= limit
        left, self._left_during_load = self._left_during_load, set()
        unsent = []
        try:
            now = self._clock.seconds()
            for item in items:
                if item.id in self._known or item.id in left:
                    continue
                probe = None
                if not self._stopped and len(self._attempts) < self._config.concurrency:
                    probe = self._url_state(item.url, now)
                if probe is None:
                    unsent.append(item.id)
                else:
                    self._send(item, probe)
        except Exception:
            log.failure("sending loaded webhooks failed")
        finally:
            if unsent:
                self._release(unsent)
            self._check_idle()

    def _load_failed(self, failure: Failure) -> None:
        self._loading = False
        self._left_during_load = set()
        log.failure("loading due webhooks failed", failure)
        self._check_idle()

    def _release(self, item_ids: list[int]) -> None:
        """Claimed here but not sent: claimable again, by any node."""
        self._releases_in_flight += 1
        d = maybeDeferred(self._store.release_webhooks, item_ids)
        d.addErrback(lambda f: log.failure("could not release {n} webhooks", f,
                                           n=len(item_ids)))
        d.addBoth(self._released)

    def _released(self, _: object) -> None:
        self._releases_in_flight -= 1
        self._check_idle()

    def _forget_stale_backoffs(self, now: float) -> None:
        # Bounded memory: a URL whose backoff ended 2 x retry_max ago without a probe has
        # no failed item left to come due (each was due within 1.1 x retry_max).
        horizon = now - 2 * self._config.retry_max
        for url in [u for u, b in self._backoff.items() if b.probe is None and b.until < horizon]:
            del self._backoff[url]

    # --- stopping ----------------------------------------------------------------------------
    def _idle(self) -> bool:
        return not (self._attempts or self._acks_waiting or self._acks_in_flight
                    or self._failures_in_flight or self._releases_in_flight or self._loading)

    def _check_idle(self) -> None:
        if self._stopped and self._idle_waiters and self._idle():
            waiters, self._idle_waiters = self._idle_waiters, []
            for d in waiters:
                d.callback(None)


_NETWORK_ERRORS: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
    (neterror.ConnectionRefusedError, "connection refused"),
    (neterror.DNSLookupError, "DNS lookup failed"),
    ((neterror.TCPTimedOutError, neterror.TimeoutError), "connect timed out"),
    ((neterror.ConnectionLost, neterror.ConnectionDone), "connection closed before the response"),
    (SchemeNotSupported, "unsupported URL scheme"),
    (CancelledError, "cancelled"),
]


def _network_error(failure: object, item: OutboxItem) -> str:
    """A short, specific last_error for a request that got no status."""
    if not isinstance(failure, Failure):
        return "no response"
    exc = failure.value
    if isinstance(exc, BadResponse):
        return str(exc)[:200]
    reasons = getattr(exc, "reasons", None)  # ResponseFailed and friends wrap the cause
    if reasons and not reasons[0].check(neterror.ConnectionDone, neterror.ConnectionLost):
        return _network_error(reasons[0], item)
    if reasons:
        return "connection closed before the response"
    for kinds, text in _NETWORK_ERRORS:
        if isinstance(exc, kinds):
            return text
    module = type(exc).__module__
    if module.startswith("OpenSSL") or "ssl" in module.lower():
        return f"TLS error: {exc}"[:200]
    if isinstance(exc, neterror.ConnectError | OSError):
        return f"connection failed: {exc}"[:200]
    log.failure("webhook {event_id} to {url}: unexpected error", failure,
                event_id=item.event_id, url=item.url)
    return f"{type(exc).__name__}: {exc}"[:200]

