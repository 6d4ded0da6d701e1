"""LoginLimiter.settle_at_once: a check that needs no waiting skips the Admission, and
nothing can tell it from admit + done(True); whatever would have waited, or failed, is left
to admit."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from gateway.core.login_limiter import AttemptPolicy, LoginLimiter

RIGHT = b"right"
IP = "203.0.113.9"


def wrong(i: int) -> bytes:
    return b"wrong-%d" % i


class World:
    """A limiter whose admitted attempts are checked at once (right iff guess == RIGHT);
    with `at_once`, a right guess is first offered to settle_at_once."""

    def __init__(self, at_once: bool, policy: AttemptPolicy = AttemptPolicy()) -> None:
        self.clock = Clock()
        self.clock.advance(1000.0)
        self.limiter = LoginLimiter(self.clock, policy)
        self.at_once = at_once
        self.events: list[tuple[float, str, str, bytes, str]] = []  # (time, ip, acct, guess, what)
        self.held: list = []  # admissions whose check has not ended

    def attempt(self, ip: str, account: str, guess: bytes, hold: bool = False) -> None:
        if self.at_once and guess == RIGHT and not hold:
            if self.limiter.settle_at_once(ip, account, guess, lambda: "settled") is not None:
                self.events.append((self.clock.seconds(), ip, account, guess, "ok"))
                return

        def admitted(admission):
            if hold:
                self.held.append(admission)
                self.events.append((self.clock.seconds(), ip, account, guess, "held"))
                return
            ok = guess == RIGHT
            admission.done(ok)
            self.events.append((self.clock.seconds(), ip, account, guess, "ok" if ok else "no"))

        def refused(failure):
            self.events.append((self.clock.seconds(), ip, account, guess, "refused"))

        self.limiter.admit(ip, account, guess).addCallbacks(admitted, refused)

    def finish(self, index: int, outcome: bool | None) -> None:
        if self.held:
            self.held.pop(index % len(self.held)).done(outcome)

    def answered_at_once(self, ip: str, account: str, guess: bytes) -> bool:
        before = len(self.events)
        self.attempt(ip, account, guess)
        return len(self.events) > before


def never() -> str:
    raise AssertionError("settle_at_once ran a check admit would have held back")


def test_a_clean_address_is_settled_at_once_and_leaves_nothing_behind():
    w = World(at_once=True)
    assert w.limiter.settle_at_once(IP, "acme", RIGHT, lambda: "account") == "account"
    assert w.limiter.tracked() == (0, 0, 0)


def test_a_success_settled_at_once_clears_the_addresses_failures_as_admit_would():
    for at_once in (False, True):
        w = World(at_once)
        w.attempt(IP, "acme", wrong(0))
        w.attempt(IP, "acme", wrong(1))
        w.attempt(IP, "acme", RIGHT)  # the address and the pair are clean again
        assert all(w.answered_at_once(IP, "acme", wrong(10 + i)) for i in range(3))
        assert not w.answered_at_once(IP, "acme", wrong(20))  # 3 failures: suspicious


def test_nothing_found_counts_nothing_and_clears_nothing():
    w = World(at_once=True)
    w.attempt(IP, "acme", wrong(0))
    w.attempt(IP, "acme", wrong(1))
    assert w.limiter.settle_at_once(IP, "acme", RIGHT, lambda: None) is None
    assert w.answered_at_once(IP, "acme", wrong(2))
    assert not w.answered_at_once(IP, "acme", wrong(3))  # the 2 failures were kept


def test_a_suspicious_address_waits_its_turn():
    w = World(at_once=True)
    for i in range(3):
        w.attempt(IP, "acme", wrong(i))
    assert w.limiter.settle_at_once(IP, "acme", RIGHT, never) is None
    assert w.limiter.settle_at_once(IP, "other", RIGHT, never) is None
    assert w.limiter.settle_at_once("192.0.2.1", "acme", RIGHT, lambda: 1) == 1


def test_a_suspicious_pair_waits_its_turn_though_the_address_is_clean():
    w = World(at_once=True)
    for i in range(2):  # the address clears itself on another account in between
        w.attempt(IP, "victim", wrong(2 * i))
        w.attempt(IP, "victim", wrong(2 * i + 1))
        w.attempt(IP, "mine", RIGHT)
    assert w.limiter.settle_at_once(IP, "victim", RIGHT, never) is None
    assert w.limiter.settle_at_once(IP, "mine", RIGHT, lambda: 1) == 1


def test_attempts_in_flight_and_in_line_are_not_overtaken():
    w = World(at_once=True)
    for i in range(3):  # three slow checks fill the address's free attempts
        w.attempt(IP, f"acct{i}", RIGHT, hold=True)
    assert w.limiter.settle_at_once(IP, "acme", RIGHT, never) is None
    w.attempt(IP, "acct9", RIGHT, hold=True)  # waits in line for those outcomes
    w.finish(0, True)  # one ends: the one in line takes its place, not a newcomer
    assert w.limiter.settle_at_once(IP, "acme", RIGHT, never) is None
    w.finish(0, True)  # two in flight: a free attempt, and no one in line
    assert w.limiter.settle_at_once(IP, "acme", RIGHT, lambda: 1) == 1


def test_the_same_guess_in_flight_is_joined_not_settled_apart():
    w = World(at_once=True)
    w.attempt(IP, "acme", RIGHT, hold=True)  # its scrypt still runs
    assert w.limiter.settle_at_once(IP, "acme", RIGHT, never) is None
    assert w.limiter.settle_at_once(IP, "acme", wrong(0), lambda: 1) == 1


def test_no_free_attempts_means_nothing_is_settled_at_once():
    w = World(at_once=True, policy=AttemptPolicy(free_attempts=0))
    assert w.limiter.settle_at_once(IP, "acme", RIGHT, never) is None


_ops = st.one_of(
    st.tuples(st.just("attempt"), st.sampled_from([IP, "192.0.2.1"]),
              st.sampled_from(["acme", "other"]),
              st.sampled_from([RIGHT, wrong(0), wrong(1), wrong(2)]), st.booleans()),
    st.tuples(st.just("advance"), st.sampled_from([0.1, 0.6, 2.0, 10.0, 400.0])),
    st.tuples(st.just("finish"), st.integers(0, 5), st.sampled_from([True, False, None])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ops, max_size=60))
def test_settling_at_once_cannot_be_told_from_admit_and_done(ops):
    worlds = World(at_once=False), World(at_once=True)
    for op in ops:
        for w in worlds:
            if op[0] == "attempt":
                w.attempt(*op[1:])
            elif op[0] == "advance":
                w.clock.advance(op[1])
            else:
                w.finish(*op[1:])
        plain, settled = worlds
        assert settled.events == plain.events
        assert settled.limiter.tracked() == plain.limiter.tracked()
