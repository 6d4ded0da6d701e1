"""Remembered password checks (credentials.py) and the bounded verifier (verifier.py)."""
from __future__ import annotations

import threading

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock, deferLater

from gateway.core.credentials import CredentialChecker
from gateway.core.passwords import hash_password, verify_password
from gateway.core.verifier import (
    PasswordVerifier,
    VerifierBusy,
    keep_large_blocks_out_of_the_heap,
)

HASH = "fake$s3cret"  # the checker never reads hashes: a stand-in keeps scrypt out


def fake_verify(password: str, encoded: str) -> bool:
    return encoded == "fake$" + password


class CountingVerify:
    def __init__(self, defer: bool = False) -> None:
        self.calls = 0
        self.defer = defer
        self.pending: list[tuple[Deferred, bool]] = []

    def __call__(self, password: str, encoded: str) -> Deferred[bool]:
        self.calls += 1
        if self.defer:
            d: Deferred[bool] = Deferred()
            self.pending.append((d, fake_verify(password, encoded)))
            return d
        return succeed(fake_verify(password, encoded))

    def release(self) -> None:
        pending, self.pending = self.pending, []
        for d, result in pending:
            d.callback(result)


def checker(verify=None, ttl: float = 300.0, **kw) -> tuple[CredentialChecker, Clock]:
    clock = Clock()
    clock.advance(1000)
    return CredentialChecker(verify or CountingVerify(), clock, ttl=ttl, **kw), clock


def result(d: Deferred):
    assert d.called
    out = []
    d.addBoth(out.append)
    return out[0]


def test_a_verified_password_is_recognised_without_scrypt():
    verify = CountingVerify()
    c, _ = checker(verify)
    assert result(c.check("acme", "s3cret", HASH)) is True
    assert result(c.check("acme", "s3cret", HASH)) is True
    assert verify.calls == 1


def test_a_wrong_password_is_never_accepted_and_always_checked():
    verify = CountingVerify()
    c, _ = checker(verify)
    c.check("acme", "s3cret", HASH)
    for _ in range(3):
        assert result(c.check("acme", "s3cret!", HASH)) is False
        assert result(c.check("acme", "S3cret", HASH)) is False
    assert verify.calls == 7  # failures are never remembered


def test_a_password_remembered_for_one_account_is_not_accepted_for_another():
    verify = CountingVerify()
    c, _ = checker(verify)
    c.check("acme", "s3cret", HASH)
    assert result(c.check("other", "s3cret", HASH)) is True  # same hash, its own check
    assert verify.calls == 2
    assert c.fingerprint("ab", "c") != c.fingerprint("a", "bc")


def test_a_password_change_ends_what_was_remembered():
    verify = CountingVerify()
    c, _ = checker(verify)
    c.check("acme", "s3cret", HASH)
    new_hash = "fake$n3w"
    assert result(c.check("acme", "s3cret", new_hash)) is False
    assert result(c.check("acme", "n3w", new_hash)) is True
    assert verify.calls == 3


def test_what_is_remembered_expires():
    verify = CountingVerify()
    c, clock = checker(verify, ttl=60)
    c.check("acme", "s3cret", HASH)
    clock.advance(30)
    c.check("acme", "s3cret", HASH, max_age=20)  # the caller's own limit, shorter
    assert verify.calls == 2
    clock.advance(59)
    c.check("acme", "s3cret", HASH)
    assert verify.calls == 2
    clock.advance(2)
    c.check("acme", "s3cret", HASH)
    assert verify.calls == 3


def test_a_zero_ttl_remembers_nothing():
    verify = CountingVerify()
    c, _ = checker(verify, ttl=0)
    c.check("acme", "s3cret", HASH)
    c.check("acme", "s3cret", HASH)
    assert verify.calls == 2


def test_identical_checks_in_flight_share_one_scrypt_run():
    verify = CountingVerify(defer=True)
    c, _ = checker(verify)
    right = [c.check("acme", "s3cret", HASH) for _ in range(1000)]
    wrong = [c.check("acme", "guess", HASH) for _ in range(5)]
    assert verify.calls == 2
    right[0].cancel()  # one caller leaving does not disturb the others
    right[0].addErrback(lambda f: None)
    verify.release()
    assert all(result(d) is True for d in right[1:])
    assert all(result(d) is False for d in wrong)


def test_a_verifier_that_raises_leaves_no_check_for_others_to_wait_on():
    calls = []

    def broken(password: str, encoded: str):
        calls.append(password)
        raise RuntimeError("no verifier")

    c, _ = checker(broken)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            c.check("acme", "s3cret", HASH)
    assert len(calls) == 2  # the second was not parked behind the first


def test_the_fingerprint_key_is_drawn_per_process_object():
    a, _ = checker()
    b, _ = checker()
    assert a.fingerprint("acme", "s3cret") != b.fingerprint("acme", "s3cret")


def test_remembered_accounts_are_bounded():
    verify = CountingVerify()
    c, _ = checker(verify, max_accounts=10)
    for i in range(50):
        c.check(f"acct{i}", "s3cret", HASH)
    assert len(c._remembered) <= 10
    c.check("acct49", "s3cret", HASH)
    assert verify.calls == 50  # the newest are kept


# --- the verifier --------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_the_verifier_runs_at_most_its_workers_at_once_and_refuses_beyond_its_queue():
    gate = threading.Event()
    running = []
    most = []
    lock = threading.Lock()

    def slow_check(password: str, encoded: str) -> bool:
        with lock:
            running.append(1)
            most.append(len(running))
        gate.wait(10)
        with lock:
            running.pop()
        return password == encoded

    verifier = PasswordVerifier(reactor, workers=2, queue_limit=3, check=slow_check)
    try:
        accepted = [verifier.verify("a", "a") for _ in range(5)]
        busy = verifier.verify("a", "a")
        assert result(busy).check(VerifierBusy)  # at once, not after a wait
        gate.set()
        answers = [await d for d in accepted]
        assert answers == [True] * 5
        assert max(most) <= 2
        assert verifier.in_progress == 0
        assert await verifier.verify("a", "b") is False  # room again
    finally:
        gate.set()
        verifier.close()


@pytest_twisted.ensureDeferred
async def test_the_verifier_checks_real_scrypt_hashes_off_the_reactor_thread():
    threads = []

    def check(password: str, encoded: str) -> bool:
        threads.append(threading.current_thread().name)
        return verify_password(password, encoded)

    verifier = PasswordVerifier(reactor, workers=1, queue_limit=1, check=check)
    try:
        encoded = hash_password("s3cret")
        assert await verifier.verify("s3cret", encoded) is True
        assert await verifier.verify("wrong", encoded) is False
        assert threads and all(name.startswith("smsgw-password") for name in threads)
    finally:
        verifier.close()


@pytest_twisted.ensureDeferred
async def test_a_closed_verifier_answers_busy_for_what_still_waited():
    gate = threading.Event()
    verifier = PasswordVerifier(reactor, workers=1, queue_limit=5,
                                check=lambda p, e: gate.wait(10))
    first = verifier.verify("a", "a")
    waiting = verifier.verify("a", "a")
    verifier.close()
    gate.set()
    assert await first is True
    with pytest.raises(VerifierBusy):
        await waiting
    with pytest.raises(VerifierBusy):
        await verifier.verify("a", "a")  # after close: busy, at once
    await deferLater(reactor, 0, lambda: None)


def test_large_blocks_are_kept_out_of_the_heap_on_glibc():
    import platform
    done = keep_large_blocks_out_of_the_heap()
    if platform.libc_ver()[0] == "glibc":
        assert done
