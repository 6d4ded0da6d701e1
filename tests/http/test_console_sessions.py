"""Console sessions and the sign-in throttle: expiry when idle or old, bounded memory,
CSRF comparison, and delays that grow after three failures from one address."""
from __future__ import annotations

from gateway.http.console.sessions import IDLE, MAX_AGE, MAX_SESSIONS, LoginThrottle, Sessions


def test_a_session_lasts_while_used_and_ends_when_idle_or_too_old():
    sessions = Sessions()
    session = sessions.start(0.0)
    assert sessions.get(session.id, IDLE - 1) is session
    assert sessions.get(session.id, 2 * IDLE - 2) is session  # each use restarts the idle clock
    assert sessions.get(session.id, 3 * IDLE) is None
    old = sessions.start(0.0)
    t = 0.0
    while t < MAX_AGE:
        t += IDLE / 2
        assert (sessions.get(old.id, t) is old) == (t <= MAX_AGE)


def test_unknown_or_ended_sessions_are_none_and_csrf_must_match():
    sessions = Sessions()
    session = sessions.start(0.0)
    assert sessions.get(None, 0.0) is None and sessions.get("forged", 0.0) is None
    assert session.csrf_ok(session.csrf) and not session.csrf_ok("x" + session.csrf[1:])
    sessions.end(session.id)
    assert sessions.get(session.id, 0.0) is None


def test_sessions_stay_bounded_by_dropping_the_least_recently_used():
    sessions = Sessions()
    first = sessions.start(0.0)
    for n in range(MAX_SESSIONS):
        sessions.start(1.0 + n / 1e6)
    assert sessions.get(first.id, 2.0) is None
    assert len(sessions._live) == MAX_SESSIONS


def test_notices_are_shown_once():
    session = Sessions().start(0.0)
    session.notice = ("ok", "done")
    assert session.take_notice() == ("ok", "done")
    assert session.take_notice() is None


def test_failed_sign_ins_are_slowed_after_three_and_forgiven_on_success():
    throttle = LoginThrottle()
    delays = []
    for _ in range(8):
        delays.append(throttle.delay("192.0.2.1", 10.0))
        throttle.failed("192.0.2.1", 10.0)
    assert delays == [0, 0, 0, 0.5, 1.0, 2.0, 4.0, 8.0]
    assert throttle.delay("192.0.2.2", 10.0) == 0  # another address is not slowed
    assert throttle.delay("192.0.2.1", 10.0 + 16 * 60) == 0  # forgotten after 15 minutes
    throttle.succeeded("192.0.2.1")
    assert throttle.delay("192.0.2.1", 11.0) == 0
