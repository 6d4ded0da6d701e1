"""HTTP Basic under parallel guessing (HttpAuthenticator on a task.Clock, accounts served at
once, a stand-in verifier), and the 429 / 503 answers rendered by the API."""
from __future__ import annotations

import base64
from dataclasses import replace

import pytest_twisted
from twisted.internet.defer import Deferred, ensureDeferred, fail, succeed
from twisted.internet.task import Clock

from gateway.core.accounts import PasswordLogins
from gateway.core.apikeys import hash_api_key
from gateway.core.credentials import CredentialChecker
from gateway.core.login_limiter import AttemptPolicy, LoginLimiter
from gateway.core.verifier import VerifierBusy
from gateway.http.auth import AuthFailed, HttpAuthenticator
from gateway.model import Account

ATTACKER = "203.0.113.9"
CUSTOMER = "198.51.100.7"


def basic(system_id: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{system_id}:{password}".encode())


class Store:
    def __init__(self) -> None:
        self.account = Account(system_id="acme", password_hash="plain$right1",
                               allow_ips=("198.51.100.0/24", "203.0.113.0/24"))

    def get_account(self, system_id: str) -> Deferred[Account | None]:
        return succeed(self.account if system_id == "acme" else None)

    def account_for_api_key(self, key_hash: str) -> Deferred[Account | None]:
        return succeed(None)


class Auth:
    def __init__(self, policy: AttemptPolicy = AttemptPolicy()) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.checked: list[str] = []
        self.busy = False
        logins = PasswordLogins(LoginLimiter(self.clock, policy),
                                CredentialChecker(self.verify, self.clock))
        store = Store()
        self.auth = HttpAuthenticator(store, store, self.clock, logins)

    def verify(self, password: str, encoded: str) -> Deferred[bool]:
        if self.busy:
            return fail(VerifierBusy("full"))
        self.checked.append(password)
        return succeed(encoded == "plain$" + password)

    def outcome(self, d: Deferred):
        out = []
        d.addBoth(out.append)
        if not out:
            return None
        result = out[0]
        return result.value if hasattr(result, "value") else result


def test_100_parallel_wrong_basic_passwords_take_at_least_30_s_and_the_customer_is_not_delayed():
    a = Auth()
    start = a.clock.seconds()
    guesses = [a.auth.authenticate(basic("acme", f"wrong{i}"), ATTACKER) for i in range(100)]
    answers: dict[int, tuple[float, int]] = {}
    for tick in range(1400):
        a.clock.advance(0.05)
        for i, d in enumerate(guesses):
            if i not in answers and d.called:
                failed = a.outcome(d)
                assert isinstance(failed, AuthFailed)
                answers[i] = (a.clock.seconds() - start, failed.status)
        if tick % 100 == 0:
            account = a.outcome(a.auth.authenticate(basic("acme", "right1"), CUSTOMER))
            assert isinstance(account, Account)  # at once, each time, during the attack
    assert len(answers) == 100
    assert max(t for t, _ in answers.values()) >= 30.0
    statuses = {status for _, status in answers.values()}
    assert statuses == {401, 429}
    unchecked = [t for t, status in answers.values() if status == 429]
    assert max(unchecked) < 0.1
    guesses_checked = [p for p in a.checked if p.startswith("wrong")]
    assert len(guesses_checked) == 100 - len(unchecked)  # the refused ones went unchecked


def test_too_many_attempts_is_429_with_a_retry_after_and_a_full_verifier_503():
    a = Auth(AttemptPolicy(free_attempts=0, max_wait=0.1))
    refused = a.outcome(a.auth.authenticate(basic("acme", "right1"), CUSTOMER))
    assert isinstance(refused, AuthFailed) and refused.status == 429
    assert 0 < refused.retry_after <= 0.5
    assert a.checked == []
    b = Auth()
    b.busy = True
    busy = b.outcome(b.auth.authenticate(basic("acme", "right1"), CUSTOMER))
    assert isinstance(busy, AuthFailed) and busy.status == 503 and busy.retry_after == 1.0


def test_malformed_credentials_and_api_keys_are_answered_without_a_turn():
    a = Auth(AttemptPolicy(free_attempts=0))
    for header in (b"Basic !!!", b"Basic " + base64.b64encode(b"nocolon"), b"Digest x",
                   b"Bearer unknown-key"):
        failed = a.outcome(a.auth.authenticate(header, ATTACKER))
        assert isinstance(failed, AuthFailed) and failed.status == 401, header


def test_the_allow_list_is_403_and_counts_as_a_failure():
    a = Auth()
    for _ in range(3):
        failed = a.outcome(a.auth.authenticate(basic("acme", "right1"), "192.0.2.1"))
        assert isinstance(failed, AuthFailed) and failed.status == 403
    assert a.outcome(a.auth.authenticate(basic("acme", "right1"), "192.0.2.1")) is None


@pytest_twisted.ensureDeferred
async def test_429_is_rendered_as_json_with_a_retry_after_header(tmp_path):
    from http_env import Env

    env = Env(tmp_path, policy=AttemptPolicy(free_attempts=0, max_wait=0.1))
    await env.add_account()
    try:
        status, body, headers = await env.call("GET", "/api/v1/balance")
        assert status == 429
        assert body["error"]["code"] == "too_many_attempts"
        assert headers.getRawHeaders(b"retry-after") == [b"1"]
        assert env.scrypt_calls == 0
    finally:
        env.router.stop()
        await env.store.close()


def test_account_for_is_authenticate_as_a_coroutine_limiter_and_check_included():
    a = Auth()
    account = a.outcome(ensureDeferred(a.auth.account_for(basic("acme", "right1"), CUSTOMER)))
    assert isinstance(account, Account) and account.system_id == "acme"
    wrong = a.outcome(ensureDeferred(a.auth.account_for(basic("acme", "nope"), CUSTOMER)))
    assert isinstance(wrong, AuthFailed) and wrong.status == 401
    assert a.checked == ["right1", "nope"]  # a new credential is verified, never assumed
    none = a.outcome(ensureDeferred(a.auth.account_for(None, CUSTOMER)))
    assert isinstance(none, AuthFailed) and none.status == 401


class KeyStore(Store):
    KEY = "sk_live_known"

    def account_for_api_key(self, key_hash: str) -> Deferred[Account | None]:
        return succeed(self.account if key_hash == hash_api_key(self.KEY) else None)


def keyed_auth() -> tuple[Auth, KeyStore]:
    a = Auth()
    store = KeyStore()
    a.auth = HttpAuthenticator(store, store, a.clock, a.auth._logins)
    return a, store


def test_account_at_once_answers_a_remembered_password_and_a_known_key_without_waiting():
    a, store = keyed_auth()
    right, key = basic("acme", "right1"), b"Bearer " + KeyStore.KEY.encode()
    assert a.auth.account_at_once(right, CUSTOMER) is None  # never checked: scrypt first
    assert a.auth.account_at_once(key, CUSTOMER) is None  # never looked up
    assert a.checked == []
    assert isinstance(a.outcome(a.auth.authenticate(right, CUSTOMER)), Account)
    assert isinstance(a.outcome(a.auth.authenticate(key, CUSTOMER)), Account)
    assert a.auth.account_at_once(right, CUSTOMER) is store.account
    assert a.auth.account_at_once(key, CUSTOMER) is store.account
    assert a.checked == ["right1"]
    assert a.auth._logins.limiter.tracked() == (0, 0, 0)


def test_account_at_once_declines_what_account_for_must_decide_and_counts_nothing():
    a, store = keyed_auth()
    right = basic("acme", "right1")
    a.outcome(a.auth.authenticate(right, CUSTOMER))
    a.outcome(a.auth.authenticate(b"Bearer " + KeyStore.KEY.encode(), CUSTOMER))
    for header, ip in ((basic("acme", "nope"), CUSTOMER), (right, "192.0.2.1"),
                       (basic("other", "right1"), CUSTOMER), (b"Basic !!!", CUSTOMER),
                       (b"Bearer sk_live_other", CUSTOMER), (b"Digest x", CUSTOMER),
                       (None, CUSTOMER), (b"Bearer " + KeyStore.KEY.encode(), "192.0.2.1")):
        for _ in range(5):  # refused only by account_for, which counts: none of these did
            assert a.auth.account_at_once(header, ip) is None, (header, ip)
    assert a.auth._logins.limiter.tracked() == (0, 0, 0)
    assert a.checked == ["right1"]


def test_account_at_once_ends_with_the_cache_a_disabled_account_and_an_attack():
    a, store = keyed_auth()
    right = basic("acme", "right1")
    a.outcome(a.auth.authenticate(right, ATTACKER))
    assert a.auth.account_at_once(right, ATTACKER) is store.account
    a.clock.advance(61)  # the account was kept 60 s: look it up again
    assert a.auth.account_at_once(right, ATTACKER) is None
    assert isinstance(a.outcome(a.auth.authenticate(right, ATTACKER)), Account)
    key = b"Bearer " + KeyStore.KEY.encode()
    store.account = replace(store.account, enabled=False)
    a.auth.forget()  # settings moved
    for header in (right, key):
        assert a.auth.account_at_once(header, ATTACKER) is None
        assert a.outcome(a.auth.authenticate(header, ATTACKER)).status == 401
        assert a.auth.account_at_once(header, ATTACKER) is None  # kept, and disabled
    store.account = replace(store.account, enabled=True)
    a.auth.forget()
    assert isinstance(a.outcome(a.auth.authenticate(right, ATTACKER)), Account)
    for i in range(3):  # the address turns suspicious: even its right password waits
        a.outcome(a.auth.authenticate(basic("acme", f"wrong{i}"), ATTACKER))
    assert a.auth.account_at_once(right, ATTACKER) is None
    assert a.auth.account_at_once(right, CUSTOMER) is store.account  # others are not held


def test_account_at_once_never_answers_with_an_account_kept_past_the_ttl():
    a = Auth()
    a.outcome(a.auth.authenticate(basic("acme", "nope"), CUSTOMER))  # the account is kept
    a.clock.advance(30)
    a.outcome(a.auth.authenticate(basic("acme", "right1"), CUSTOMER))  # remembered from now
    assert a.auth.account_at_once(basic("acme", "right1"), CUSTOMER) is not None
    a.clock.advance(31)  # the password is 31 s old, the account 61 s: read it again
    assert a.auth.account_at_once(basic("acme", "right1"), CUSTOMER) is None
