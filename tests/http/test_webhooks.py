"""The webhook leg of the fan-out (http/webhooks.py): the memory store, a receiver (a
twisted.web Resource behind treq's StubTreq) that can be told how to answer, and time from
a task.Clock. The memory store answers at once, so `settle()` only flushes the stub until
the sender has nothing more to do; two tests use real sockets and the real reactor."""
from __future__ import annotations

import hashlib
import hmac
import socket
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import pytest_twisted
from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock, deferLater
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from gateway.http.webhook_client import WebhookClient
from gateway.http.webhooks import WebhookConfig, WebhookSender, sign, verify
from gateway.model import Account, Address, Channel, DeliveryKind, NewOutboxItem, OutboxItem
from gateway.storage.memory import MemoryStore

NOW = 1_800_000_000.0
SECRET = "whsec_test_0123456789"
A = "http://hooks.test/a"
B = "http://hooks.test/b"
HANG = "hang"


@dataclass
class Owner:
    owner: int


class NoJitter:
    """random.Random stand-in: the middle of every range, so delays are exact."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


@dataclass
class Received:
    path: str
    at: float
    headers: dict[str, str]
    body: bytes


class Receiver(Resource):
    """Answers POSTs by path from a script: each answer is used once, the last one for
    good. An answer is a status code, HANG (never answers), or (status, body)."""

    isLeaf = True

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.script: dict[str, list[Any]] = {}
        self.requests: list[Received] = []
        self.hanging: list[Any] = []
        self.lost: list[Any] = []  # requests whose connection we dropped

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def render_POST(self, request):  # noqa: N802 - twisted.web's name
        path = request.path.decode()
        headers = {k.decode().lower(): v[0].decode()
                   for k, v in request.requestHeaders.getAllRawHeaders()}
        self.requests.append(Received(path, self.clock.seconds(), headers,
                                      request.content.read()))
        answers = self.script.get(path, [200])
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        request.notifyFinish().addErrback(lambda _: self.lost.append(request))
        if answer == HANG:
            self.hanging.append(request)
            return NOT_DONE_YET
        status, body = answer if isinstance(answer, tuple) else (answer, b"ok")
        request.setResponseCode(status)
        if status == 302:
            request.setHeader(b"location", B.encode())
        if body is HANG:  # the headers, a lot of body, and no end
            request.write(b"x" * (64 * 1024 + 1))
            return NOT_DONE_YET
        return body


class TrackingStore:
    """The real store, with every call counted until it answers (for settle) and the
    deletes optionally held back."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.pending = 0
        self.delivered_calls: list[list[int]] = []
        self.hold_deletes = False
        self.held: list[Deferred] = []
        self.hold_loads = False
        self.held_loads: list[tuple[Deferred, list[OutboxItem]]] = []

    def _track(self, d: Deferred) -> Deferred:
        self.pending += 1

        def done(result):
            self.pending -= 1
            return result
        return d.addBoth(done)

    def claim_webhooks(self, owner, now, limit, exclude_urls=()):
        d = self._track(self._store.claim_webhooks(owner, now, limit, exclude_urls))
        if not self.hold_loads:
            return d
        gate: Deferred = Deferred()  # the answer as of now, handed over on release
        d.addCallback(lambda items: self.held_loads.append((gate, items)))
        return gate

    def release_webhooks(self, item_ids):
        return self._track(self._store.release_webhooks(item_ids))

    def webhook_failed(self, item_id, attempts, next_attempt_at, error, dead_at):
        return self._track(self._store.webhook_failed(item_id, attempts, next_attempt_at,
                                                      error, dead_at))

    def webhooks_delivered(self, item_ids):
        ids = list(item_ids)
        self.delivered_calls.append(ids)
        if not self.hold_deletes:
            return self._track(self._store.webhooks_delivered(ids))
        gate: Deferred = Deferred()  # not pending (for settle) until released
        self.held.append(gate)
        gate.addCallback(lambda _: self._track(self._store.webhooks_delivered(ids)))
        return gate

    def release(self) -> None:
        self.hold_deletes = self.hold_loads = False
        held, self.held = self.held, []
        for gate in held:
            gate.callback(None)
        loads, self.held_loads = self.held_loads, []
        for gate, items in loads:
            gate.callback(items)


class Env:
    def __init__(self, tmp_path, http: Any = None, **config: Any) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.db = MemoryStore()
        self.owner = Owner(1)
        self.store = TrackingStore(self.db)
        self.receiver = Receiver(self.clock)
        self.stub = StubTreq(self.receiver)
        self.http = http or self.stub
        self.config = WebhookConfig(**config)
        self.secrets = {"acme": SECRET}
        self.sender = self.new_sender()
        self._next_event = 0

    def new_sender(self) -> WebhookSender:
        return WebhookSender(self.store, self.http, self.clock, self.config,
                             lambda account: self.secrets.get(account, ""), owner=self.owner,
                             rng=NoJitter())

    async def restart(self) -> None:
        """The gateway stopped (its claims let go, as leaving the cluster does) and a new
        run, a new owner, starts sending."""
        await self.sender.stop()
        await self.db.leave_cluster(self.owner.owner)
        self.owner = Owner(self.owner.owner + 1)
        self.sender = self.new_sender()

    async def queue(self, n: int = 1, url: str = A, account: str = "acme",
                    created_at: float | None = None, claimed: bool = False
                    ) -> list[OutboxItem]:
        """Items written as the fan-out writes them: `claimed` by this node (it sends them
        at once), or left for a poll."""
        items = []
        for _ in range(n):
            self._next_event += 1
            event_id = f"evt_{self._next_event:04d}"
            items.append(NewOutboxItem(
                account=account, kind=DeliveryKind.RECEIPT, source=Address(addr="100"),
                destination=Address(addr="200"), body=b"", message_id=f"m{self._next_event}",
                created_at=NOW if created_at is None else created_at,
                channel=Channel.WEBHOOK, url=url, event_id=event_id,
                payload=f'{{"event_id":"{event_id}","type":"message.receipt"}}',
                claimed_by=self.owner.owner if claimed else None))
        return await self.db.queue_outbox(items)

    async def enqueue(self, n: int = 1, url: str = A, **kw: Any) -> list[OutboxItem]:
        items = await self.queue(n, url, claimed=self.sender.wants(), **kw)
        for item in items:
            self.sender.enqueue(item)
        await self.settle()
        return items

    async def settle(self) -> None:
        """Until no store operation is pending and the receiver has nothing to say."""
        quiet = 0
        for _ in range(200):
            if self.http is self.stub:
                self.stub.flush()
            else:  # real sockets: the real reactor must turn
                await deferLater(reactor, 0.001, lambda: None)
            quiet = quiet + 1 if self.store.pending == 0 else 0
            if quiet >= 3:
                return
        raise AssertionError("the store never went quiet")

    async def at(self, offset: float) -> None:
        """Move the clock to NOW + offset (firing what is due on the way) and settle."""
        self.clock.advance(NOW + offset - self.clock.seconds())
        await self.settle()

    async def tick_until(self, offset: float, step: float = 1.0) -> None:
        """Poll by poll up to NOW + offset."""
        while self.clock.seconds() + step <= NOW + offset + 1e-9:
            self.clock.advance(step)
            await self.settle()

    async def items(self, dead: bool | None = None) -> list[OutboxItem]:
        return await self.db.list_webhooks(dead=dead)


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    pytest_twisted.blockon(e.db.add_account(Account(
        system_id="acme", password_hash="x", balance=Decimal("1"), throughput=0)))
    pytest_twisted.blockon(e.db.add_account(Account(
        system_id="beta", password_hash="x", balance=Decimal("1"), throughput=0)))
    yield e
    e.store.release()  # a failed test may have left some held
    pytest_twisted.blockon(e.sender.stop())
    pytest_twisted.blockon(e.db.close())


def one(env_items: list[OutboxItem]) -> OutboxItem:
    assert len(env_items) == 1, env_items
    return env_items[0]


# --- delivery -------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_a_2xx_removes_the_item_and_it_is_delivered_once(env):
    [item] = await env.enqueue()
    env.sender.start()
    await env.tick_until(30)
    [request] = env.receiver.requests
    assert request.path == "/a"
    assert request.body == item.payload.encode()
    assert request.headers["x-smsgw-event-id"] == item.event_id
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "smsgw-webhooks/1"
    assert await env.items() == []
    assert env.store.delivered_calls == [[item.id]]
    assert env.sender.stats() == {"in_flight": 0, "delivered": 1, "failed": 0, "dead": 0,
                                  "urls_backing_off": 0}


@pytest_twisted.ensureDeferred
async def test_a_5xx_is_retried_after_the_backoff_and_delivered_once(env):
    env.receiver.script["/a"] = [503, 200]
    [item] = await env.enqueue()
    env.sender.start()
    await env.settle()
    stored = one(await env.items())
    assert (stored.attempts, stored.last_error, stored.next_attempt_at) == (1, "HTTP 503",
                                                                            NOW + 5)
    await env.tick_until(4)
    assert len(env.receiver.requests) == 1
    await env.tick_until(30)
    assert [r.at for r in env.receiver.requests] == [NOW, NOW + 5]
    assert await env.items() == []
    assert env.store.delivered_calls == [[item.id]]
    assert env.sender.stats()["failed"] == 1


@pytest_twisted.ensureDeferred
async def test_the_backoff_doubles_and_caps_at_retry_max(tmp_path):
    env = Env(tmp_path, retry_max=40.0)
    await env.db.add_account(Account(system_id="acme", password_hash="x",
                                     balance=Decimal("1"), throughput=0))
    try:
        env.receiver.script["/a"] = [500]
        await env.enqueue()
        env.sender.start()
        seen = []
        for _ in range(6):
            stored = one(await env.items())
            seen.append(stored.next_attempt_at - env.clock.seconds())
            await env.at(stored.next_attempt_at - NOW)
        assert seen == [5, 10, 20, 40, 40, 40]
        times = [r.at - NOW for r in env.receiver.requests]
        assert times == [0, 5, 15, 35, 75, 115, 155]
        assert one(await env.items()).attempts == 7
    finally:
        await env.sender.stop()
        await env.db.close()


@pytest_twisted.ensureDeferred
async def test_a_hanging_receiver_times_out_and_is_retried(env):
    env.receiver.script["/a"] = [HANG, 200]
    await env.enqueue()
    env.sender.start()
    await env.at(9.9)
    assert env.sender.stats()["in_flight"] == 1
    assert one(await env.items()).attempts == 0
    await env.at(10)
    stored = one(await env.items())
    assert (stored.attempts, stored.last_error, stored.next_attempt_at) == (
        1, "timeout after 10s", NOW + 15)
    assert env.sender.stats()["in_flight"] == 0
    assert len(env.receiver.lost) == 1  # the connection was given up
    await env.tick_until(20)
    assert [r.at - NOW for r in env.receiver.requests] == [0, 15]
    assert await env.items() == []


@pytest_twisted.ensureDeferred
async def test_attempts_begun_at_different_times_each_time_out_at_their_own_deadline(env):
    # one timer serves every attempt in flight: after the first expiry it must wait for
    # the next attempt's deadline, not a whole timeout more
    env.receiver.script["/a"] = [HANG]
    env.receiver.script["/b"] = [HANG]
    env.sender.start()
    [first] = await env.enqueue(url=A)
    await env.at(3)
    [second] = await env.enqueue(url=B)
    await env.at(9.9)
    assert env.sender.stats()["in_flight"] == 2
    await env.at(10)
    assert env.sender.stats()["in_flight"] == 1
    await env.at(12.9)
    assert env.sender.stats()["in_flight"] == 1
    await env.at(13)
    assert env.sender.stats()["in_flight"] == 0
    stored = {item.id: item for item in await env.items()}
    assert [(stored[i.id].attempts, stored[i.id].last_error) for i in (first, second)] == [
        (1, "timeout after 10s"), (1, "timeout after 10s")]
    assert len(env.receiver.lost) == 2


@pytest_twisted.ensureDeferred
async def test_a_redirect_is_a_failure_and_is_not_followed(env):
    env.receiver.script["/a"] = [302]
    await env.enqueue()
    env.sender.start()
    await env.tick_until(3)
    assert [r.path for r in env.receiver.requests] == ["/a"]
    stored = one(await env.items())
    assert (stored.attempts, stored.last_error) == (1, "HTTP 302")


@pytest_twisted.ensureDeferred
async def test_a_big_response_body_is_dropped_after_64_kib(env):
    # 200, then more than 64 KiB and no end: waiting for the end would take until the
    # timeout; the sender drops the connection instead, and the 200 counts.
    env.receiver.script["/a"] = [(200, HANG)]
    await env.enqueue()
    assert env.receiver.lost and env.sender.stats()["in_flight"] == 0
    assert await env.items() == []
    assert env.sender.stats()["delivered"] == 1


# --- dead letters -----------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_an_item_failing_past_dead_letter_after_is_dead_lettered(tmp_path):
    env = Env(tmp_path, dead_letter_after=30.0)
    await env.db.add_account(Account(system_id="acme", password_hash="x",
                                     balance=Decimal("1"), throughput=0))
    try:
        env.receiver.script["/a"] = [500]
        await env.enqueue()
        env.sender.start()
        await env.tick_until(36)
        # attempts at 0, 5, 15 are retried; the one at 35 (age >= 30) is the last
        assert [r.at - NOW for r in env.receiver.requests] == [0, 5, 15, 35]
        dead = one(await env.items(dead=True))
        assert (dead.attempts, dead.dead_at, dead.last_error) == (4, NOW + 35, "HTTP 500")
        assert await env.items(dead=False) == []
        assert await env.db.webhook_counts() == {"pending": 0, "dead": 1}
        await env.tick_until(36 + 3600, step=60)
        assert len(env.receiver.requests) == 4
        assert env.sender.stats()["dead"] == 1

        # an admin replays it once the receiver works again
        env.receiver.script["/a"] = [200]
        assert await env.db.replay_webhooks(now=env.clock.seconds()) == 1
        await env.tick_until(36 + 3600 + 2)
        assert len(env.receiver.requests) == 5
        assert await env.items() == []
    finally:
        await env.sender.stop()
        await env.db.close()


# --- signing ----------------------------------------------------------------------------------
def test_sign_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(b"k", b"1700000000." + b'{"a":1}', hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, b'{"a":1}') == "v1=" + expected


def test_a_secrets_prehashed_key_is_copied_per_body_not_fed_by_it():
    # the keyed HMAC is kept per secret: every signature must still be of its body alone
    for body in (b"", b'{"a":1}', b'{"b":2}', b'{"a":1}'):
        for secret in ("k", "other", "k\u00e9"):
            expected = hmac.new(secret.encode(), b"17." + body, hashlib.sha256).hexdigest()
            assert sign(secret, 17, body) == "v1=" + expected


@pytest_twisted.ensureDeferred
async def test_the_signature_verifies_and_fails_with_a_wrong_secret_or_a_stale_timestamp(env):
    await env.enqueue()
    [request] = env.receiver.requests
    ts, sig, body = (request.headers["x-smsgw-timestamp"],
                     request.headers["x-smsgw-signature"], request.body)
    assert ts == str(int(NOW))
    assert verify(SECRET, ts, sig, body, now=NOW + 299)
    assert not verify("another-secret", ts, sig, body, now=NOW)
    assert not verify(SECRET, ts, sig, body, now=NOW + 301)  # stale: a replay
    assert not verify(SECRET, ts, sig, body + b" ", now=NOW)
    assert not verify(SECRET, str(int(NOW) + 1), sig, body, now=NOW)
    assert not verify(SECRET, "soon", sig, body, now=NOW)
    assert not verify(SECRET, ts, None, body, now=NOW)
    assert verify(SECRET, ts, "v0=abc, " + sig, body, now=NOW)


@pytest_twisted.ensureDeferred
async def test_an_account_without_a_secret_gets_its_webhooks_unsigned(env):
    await env.enqueue(account="beta")
    [request] = env.receiver.requests
    assert "x-smsgw-signature" not in request.headers
    assert request.headers["x-smsgw-timestamp"] == str(int(NOW))
    assert await env.items() == []


# --- per-URL backoff and concurrency ---------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_a_failing_url_gets_one_probe_per_backoff_period_and_others_are_not_held_up(env):
    env.receiver.script["/a"] = [503]
    await env.queue(20, A)
    await env.queue(5, B)
    env.sender.start()
    await env.settle()
    assert len(env.receiver.to("/b")) == 5  # not held up by /a
    await env.tick_until(80)
    # one probe per period; the period doubles with each failed probe (5, 10, 20, 40)
    assert [r.at - NOW for r in env.receiver.to("/a")] == [0, 5, 15, 35, 75]
    assert len({r.headers["x-smsgw-event-id"] for r in env.receiver.to("/a")}) == 5
    assert len(await env.items()) == 20
    # the receiver comes back: the next probe clears the backoff and the rest follow
    env.receiver.script["/a"] = [200]
    await env.tick_until(80 + 160 + 2)
    assert await env.items() == []
    assert len(env.receiver.to("/a")) == 5 + 20
    assert env.sender.stats()["urls_backing_off"] == 0


@pytest_twisted.ensureDeferred
async def test_the_concurrency_cap_is_respected(tmp_path):
    env = Env(tmp_path, concurrency=3)
    await env.db.add_account(Account(system_id="acme", password_hash="x",
                                     balance=Decimal("1"), throughput=0))
    try:
        env.receiver.script["/a"] = [HANG, HANG, HANG, HANG, 200]
        items = await env.enqueue(5)
        env.sender.start()
        await env.tick_until(5)
        assert len(env.receiver.requests) == 3
        assert env.sender.stats()["in_flight"] == 3
        first = env.receiver.hanging.pop(0)
        first.setResponseCode(200)
        first.finish()
        await env.settle()
        # the freed slot went to the next item at once, not at the next poll: the last
        # load filled its page, so the store may hold more
        assert len(env.receiver.requests) == 4
        assert env.sender.stats()["in_flight"] == 3
        assert len(await env.items()) == 4
        assert env.store.delivered_calls == [[items[0].id]]
    finally:
        await env.sender.stop()
        await env.db.close()


# --- acks, stop and restart ------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_an_item_whose_delete_is_in_flight_is_not_sent_again(env):
    env.store.hold_deletes = True
    [first] = await env.enqueue()
    env.sender.start()
    second, third = await env.enqueue(2)
    await env.tick_until(10)
    assert len(env.receiver.requests) == 3  # nothing sent twice while the deletes wait
    # one delete in flight; those answered meanwhile wait for it and go together
    assert env.store.delivered_calls == [[first.id]]
    env.store.release()
    await env.settle()
    assert env.store.delivered_calls == [[first.id], [second.id, third.id]]
    await env.tick_until(20)
    assert len(env.receiver.requests) == 3
    assert await env.items() == []


@pytest_twisted.ensureDeferred
async def test_an_item_a_poll_is_claiming_is_not_sent_by_an_enqueue_meanwhile(env):
    [item] = await env.queue()  # written unclaimed: for whichever node's poll claims it
    env.store.hold_loads = True
    env.sender.start()  # the poll's claim runs now: it takes the item...
    await env.settle()
    assert [i.id for _, items in env.store.held_loads for i in items] == [item.id]
    env.sender.enqueue(item)  # ...so the enqueue of the unclaimed item leaves it alone
    await env.settle()
    assert env.receiver.requests == []
    env.store.release()  # the claim's answer arrives: sent once, by the poll
    await env.tick_until(5)
    assert len(env.receiver.requests) == 1
    assert env.store.delivered_calls == [[item.id]]
    assert await env.items() == []


@pytest_twisted.ensureDeferred
async def test_stop_writes_the_waiting_deletes_before_it_fires(env):
    env.store.hold_deletes = True
    [first, second] = await env.enqueue(2)
    stopped = env.sender.stop()
    assert env.store.delivered_calls == [[first.id], [second.id]]  # queued at once
    assert not stopped.called  # the first is still held
    env.store.release()
    await stopped
    assert await env.items() == []


@pytest_twisted.ensureDeferred
async def test_stop_leaves_undelivered_items_due_and_a_restart_delivers_them(env):
    env.receiver.script["/a"] = [HANG, HANG, HANG, 200]
    items = await env.enqueue(3)
    assert env.sender.stats()["in_flight"] == 3
    await env.sender.stop()
    assert env.sender.stats()["in_flight"] == 0
    stored = await env.items()
    assert [(i.id, i.attempts, i.last_error, i.next_attempt_at) for i in stored] == [
        (i.id, 0, "", NOW) for i in items]
    await env.restart()
    env.sender.start()
    await env.settle()
    assert len(env.receiver.requests) == 6
    assert await env.items() == []


# --- real sockets ------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_connection_refused_counts_as_a_failure(tmp_path):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = Env(tmp_path, http=WebhookClient(reactor, per_host=1), timeout=5.0)
    await env.db.add_account(Account(system_id="acme", password_hash="x",
                                     balance=Decimal("1"), throughput=0))
    try:
        await env.enqueue(url=f"http://127.0.0.1:{port}/hook")
        for _ in range(500):
            stored = await env.items()
            if stored and stored[0].attempts:
                break
            await deferLater(reactor, 0.01, lambda: None)
        stored = one(await env.items())
        assert (stored.attempts, stored.next_attempt_at) == (1, NOW + 5)
        assert stored.last_error == "connection refused"
        assert env.sender.stats()["failed"] == 1
    finally:
        await env.sender.stop()
        await env.db.close()
