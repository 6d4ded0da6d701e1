"""Bind authentication on the SMSC side under guessing and storms: the real session, server
and login path (limiter, remembered credentials) on a task.Clock, StringTransports for the
sockets, accounts served at once and a password verifier the tests release by hand."""
from __future__ import annotations

import pytest
import pytest_twisted
from test_smpp_server import Client, Harness
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, ensureDeferred, fail, succeed
from twisted.internet.testing import StringTransport

from gateway.core.accounts import Authenticator, PasswordLogins
from gateway.core.credentials import CredentialChecker
from gateway.core.login_limiter import AttemptPolicy, LoginLimiter
from gateway.core.verifier import VerifierBusy
from gateway.model import Account
from gateway.smpp import pdu as P
from gateway.smpp.constants import CommandStatus as S

PASSWORD = "right1"
ATTACKER = "203.0.113.9"
CUSTOMER = "198.51.100.7"


class Verifier:
    """Checks `encoded == 'plain$' + password`; with hold=True answers only on release()."""

    def __init__(self) -> None:
        self.hold = False
        self.busy = False
        self.checked: list[str] = []
        self._held: list[tuple[Deferred, bool]] = []

    def __call__(self, password: str, encoded: str) -> Deferred[bool]:
        if self.busy:
            return fail(VerifierBusy("full"))
        self.checked.append(password)
        ok = encoded == "plain$" + password
        if not self.hold:
            return succeed(ok)
        d: Deferred[bool] = Deferred()
        self._held.append((d, ok))
        return d

    def release(self) -> None:
        held, self._held = self._held, []
        for d, ok in held:
            d.callback(ok)


class Accounts:
    """The store's get_account; with hold=True it answers only on release()."""

    def __init__(self, *accounts: Account) -> None:
        self.by_id = {a.system_id: a for a in accounts}
        self.reads = 0
        self.hold = False
        self._held: list[tuple[Deferred, str]] = []

    def get_account(self, system_id: str) -> Deferred[Account | None]:
        self.reads += 1
        if not self.hold:
            return succeed(self.by_id.get(system_id))
        d: Deferred[Account | None] = Deferred()
        self._held.append((d, system_id))
        return d

    def release(self) -> None:
        held, self._held = self._held, []
        for d, system_id in held:
            d.callback(self.by_id.get(system_id))


class Binds:
    def __init__(self, harness: Harness, max_binds: int = 2) -> None:
        self.harness = harness
        self.clock = harness.clock
        self.verifier = Verifier()
        account = Account(system_id="acme", password_hash="plain$" + PASSWORD,
                          max_binds=max_binds, throughput=0)
        logins = PasswordLogins(LoginLimiter(self.clock, AttemptPolicy()),
                                CredentialChecker(self.verifier, self.clock))
        self.accounts = Accounts(account)
        smsc = harness.parts.smsc
        smsc.authenticator = Authenticator(self.accounts, harness.parts.binds, logins)

    def connect(self, ip: str) -> Client:
        protocol = self.harness.parts.smsc.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", ip, 40000))
        protocol.makeConnection(transport)
        return Client(protocol, transport)

    def bind(self, ip: str, password: str, client: Client | None = None) -> Client:
        client = client or self.connect(ip)
        client.send(P.BindTransceiver(sequence_number=1, system_id="acme", password=password))
        return client

    def answer(self, client: Client):
        pdus = client.pdus()
        return pdus[0] if pdus else None

    def advance(self, seconds: float, step: float = 0.05) -> None:
        end = self.clock.seconds() + seconds
        while self.clock.seconds() < end:
            self.clock.advance(min(step, end - self.clock.seconds()))


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path, smpp={"enquire_link_interval": 0})
    yield h
    pytest_twisted.blockon(ensureDeferred(h.close()))


def test_100_parallel_wrong_binds_take_at_least_30_s_and_another_address_binds_at_once(
        harness):
    b = Binds(harness)
    start = b.clock.seconds()
    guesses = [b.bind(ATTACKER, f"wrong{i}") for i in range(100)]
    answered: dict[int, tuple[float, int]] = {}
    customer_waits = []
    for tick in range(int(70 / 0.05)):
        b.advance(0.05)
        for i, client in enumerate(guesses):
            if i not in answered and (pdu := b.answer(client)) is not None:
                answered[i] = (b.clock.seconds() - start, pdu.command_status)
        if tick % 100 == 0:  # every 5 s the customer binds from its own address
            customer = b.bind(CUSTOMER, PASSWORD)
            pdu = b.answer(customer)
            customer_waits.append(pdu is not None and pdu.command_status == S.ESME_ROK)
            customer.lose()
    assert len(answered) == 100  # every guess got an answer, none was cut off by a timer
    assert max(t for t, _ in answered.values()) >= 30.0
    wrong = sorted(t for t, status in answered.values() if status == S.ESME_RINVPASWD)
    refused = [t for t, status in answered.values() if status == S.ESME_RBINDFAIL]
    assert len(wrong) + len(refused) == 100
    # refusals went unchecked; the customer's password was checked once, then remembered
    assert len(b.verifier.checked) == len(wrong) + 1
    assert max(refused) < 0.1  # refused at once: their turn would be more than 60 s away
    assert wrong[3:] == sorted(wrong[3:]) and all(
        later - earlier >= 0.45 for earlier, later in zip(wrong[3:], wrong[4:], strict=False))
    assert all(customer_waits)  # answered ROK at once, every time, during the attack


def test_a_bind_waiting_for_our_verifier_is_not_closed_by_the_bind_timer(harness):
    b = Binds(harness)
    b.verifier.hold = True
    client = b.bind(CUSTOMER, PASSWORD)
    b.advance(30)  # 3x the bind timeout, spent in our own password check
    assert not client.transport.disconnecting
    b.verifier.release()
    assert b.answer(client).command_status == S.ESME_ROK


def test_a_refused_bind_gets_the_rest_of_its_bind_timer_back(harness):
    b = Binds(harness)
    client = b.connect(CUSTOMER)
    b.advance(4)
    b.verifier.hold = True
    b.bind(CUSTOMER, "wrong", client)  # at 4 s of 10
    b.advance(20)
    b.verifier.release()
    assert b.answer(client).command_status == S.ESME_RINVPASWD
    b.advance(5.9)
    assert not client.transport.disconnecting
    b.advance(0.2)
    assert client.transport.disconnecting


def test_a_full_verifier_answers_rbindfail_at_once(harness):
    b = Binds(harness)
    b.verifier.busy = True
    client = b.bind(CUSTOMER, PASSWORD)
    assert b.answer(client).command_status == S.ESME_RBINDFAIL
    b.verifier.busy = False
    client.send(P.BindTransceiver(sequence_number=2, system_id="acme", password=PASSWORD))
    assert b.answer(client).command_status == S.ESME_ROK  # not counted as a failure


def test_a_connection_lost_while_waiting_for_its_turn_is_never_checked(harness):
    b = Binds(harness)
    for i in range(3):
        b.bind(ATTACKER, f"wrong{i}")
    waiting = b.bind(ATTACKER, "wrong9")
    assert b.answer(waiting) is None
    waiting.lose()
    b.advance(10)
    assert b.verifier.checked == ["wrong0", "wrong1", "wrong2"]


def test_1000_binds_of_one_account_at_once_pay_one_store_read_and_one_password_check(
        harness):
    b = Binds(harness, max_binds=1000)
    b.accounts.hold = b.verifier.hold = True
    clients = [b.bind(CUSTOMER, PASSWORD) for _ in range(1000)]
    assert b.accounts.reads == 1
    b.accounts.hold = False
    b.accounts.release()
    assert b.verifier.checked == [PASSWORD]
    b.verifier.release()
    assert all(b.answer(c).command_status == S.ESME_ROK for c in clients)
    assert harness.parts.binds.count("acme") == 1000
    late = b.bind("192.0.2.1", PASSWORD)  # from elsewhere, later: remembered, no scrypt
    assert b.answer(late).command_status == S.ESME_RBINDFAIL  # bind limit reached
    assert b.verifier.checked == [PASSWORD]
