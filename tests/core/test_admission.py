"""Admission (core/admission.py): the throughput and pending limits SMPP sessions and HTTP
accounts share, on a task.Clock."""
from __future__ import annotations

from decimal import Decimal

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from gateway.core.admission import AccountAdmissions, Admission
from gateway.model import Account
from gateway.smpp.constants import CommandStatus as S


def test_a_session_gets_its_rate_and_is_throttled_above_it():
    clock = Clock()
    admission = Admission(clock, rate=2, max_pending=100)
    assert [admission.admit() for _ in range(3)] == [S.ESME_ROK, S.ESME_ROK, S.ESME_RTHROTTLED]
    clock.advance(0.5)
    assert admission.admit() == S.ESME_ROK


def test_a_batch_is_admitted_on_one_token_and_its_debt_waited_out():
    clock = Clock()
    admission = Admission(clock, rate=2, max_pending=100)
    assert admission.admit(10) == S.ESME_ROK  # 2 tokens, 10 messages: 8 owed
    assert admission.admit() == S.ESME_RTHROTTLED
    assert admission.retry_after() == 4.5  # (1 + 8) / 2
    clock.advance(4.4)
    assert admission.admit() == S.ESME_RTHROTTLED
    clock.advance(0.1)
    assert admission.admit() == S.ESME_ROK


def test_too_many_submits_waiting_for_the_store_are_refused_queue_full():
    admission = Admission(Clock(), rate=0, max_pending=2)
    waiting = [admission.track(Deferred()) for _ in range(2)]
    assert admission.admit() == S.ESME_RMSGQFUL
    waiting[0].callback(None)
    assert admission.admit() == S.ESME_ROK
    assert admission.pending == 1


def test_rate_zero_is_unlimited_and_a_changed_rate_starts_full():
    clock = Clock()
    admission = Admission(clock, rate=0, max_pending=10)
    assert all(admission.admit() == S.ESME_ROK for _ in range(1000))
    assert admission.retry_after() == 0
    admission.set_rate(1)
    assert [admission.admit(), admission.admit()] == [S.ESME_ROK, S.ESME_RTHROTTLED]


def test_http_accounts_each_have_one_admission_following_their_throughput():
    admissions = AccountAdmissions(Clock(), max_pending=10)
    acme = Account(system_id="acme", password_hash="x", balance=Decimal(1), throughput=1)
    first = admissions.of(acme)
    assert admissions.of(acme) is first
    assert first.admit() == S.ESME_ROK and first.admit() == S.ESME_RTHROTTLED
    faster = Account(system_id="acme", password_hash="x", throughput=5)
    assert admissions.of(faster).rate == 5
    other = Account(system_id="beta", password_hash="x", throughput=1)
    assert admissions.of(other).admit() == S.ESME_ROK  # accounts do not share a bucket
