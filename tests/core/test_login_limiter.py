"""The login limiter on a task.Clock: when guesses may be checked, per address and per
account, in parallel as well as one after another."""
from __future__ import annotations

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock

from gateway.core.login_limiter import AttemptPolicy, LoginLimiter, TooManyAttempts

RIGHT = b"right"


class Guesser:
    """Sends attempts; each admitted attempt is 'checked' at once: right iff guess==RIGHT."""

    def __init__(self, policy: AttemptPolicy = AttemptPolicy(), **kw) -> None:
        self.clock = Clock()
        self.clock.advance(1000.0)
        self.start = self.clock.seconds()
        self.limiter = LoginLimiter(self.clock, policy, **kw)
        self.checked: list[tuple[float, str, str, bytes]] = []  # (time, ip, account, guess)
        self.answers: list[tuple[float, str]] = []  # (time, "ok" | "wrong" | "refused")

    def attempt(self, ip: str, account: str, guess: bytes, *, hold: bool = False):
        """Returns the Deferred; with hold=True the admission is returned undone."""
        d = self.limiter.admit(ip, account, guess)

        def admitted(admission):
            self.checked.append((self.clock.seconds(), ip, account, guess))
            if hold:
                return admission
            ok = guess == RIGHT
            admission.done(ok)
            self.answers.append((self.clock.seconds(), "ok" if ok else "wrong"))
            return ok

        def refused(failure):
            failure.trap(TooManyAttempts)
            self.answers.append((self.clock.seconds(), "refused"))
            return failure.value

        return d.addCallbacks(admitted, refused)

    def run(self, seconds: float, step: float = 0.05) -> None:
        end = self.clock.seconds() + seconds
        while self.clock.seconds() < end:
            self.clock.advance(min(step, end - self.clock.seconds()))

    def elapsed(self) -> float:
        return self.clock.seconds() - self.start


def wrong(i: int) -> bytes:
    return b"wrong-%d" % i


def test_a_clean_address_is_checked_at_once():
    g = Guesser()
    d = g.attempt("192.0.2.1", "acme", RIGHT)
    assert d.called and d.result is True


def test_100_parallel_wrong_guesses_for_one_account_take_at_least_30_s():
    g = Guesser()
    results = [g.attempt("203.0.113.9", "acme", wrong(i)) for i in range(100)]
    g.run(120)
    assert all(d.called for d in results)
    last_answer = max(t for t, _ in g.answers) - g.start
    assert last_answer >= 30.0
    # every guess that was checked waited for its turn: the checks are spread out
    times = [t - g.start for t, *_ in g.checked]
    assert len(times) <= 3 + 10, times  # 3 free, then turns 0.5, 1, 2, 4, 8, 8... within 60 s
    assert times[:3] == [0.0, 0.0, 0.0]
    assert all(b - a >= 0.5 - 1e-9 for a, b in zip(times[3:], times[4:], strict=False))
    # the rest were refused at once, unchecked
    refused = [t for t, kind in g.answers if kind == "refused"]
    assert len(refused) == 100 - len(times) and max(refused) == g.start


def test_an_attacker_retrying_every_refusal_checks_100_guesses_no_faster_than_sequentially():
    g = Guesser()
    pending = {i: g.attempt("203.0.113.9", "acme", wrong(i)) for i in range(100)}
    for _ in range(2000):  # retry each refused guess once a second, as a scripted attacker
        g.run(1.0)
        for i, d in list(pending.items()):
            if not d.called:
                continue
            if isinstance(d.result, TooManyAttempts):
                pending[i] = g.attempt("203.0.113.9", "acme", wrong(i))
            else:
                assert d.result is False
                del pending[i]
        if not pending:
            break
    assert not pending
    assert len({guess for *_, guess in g.checked}) == 100 == len(g.checked)  # each once
    assert g.checked[-1][0] - g.start >= 30.0 * 20  # 8 s apart once spaced out: ~12 minutes


def test_a_correct_login_from_another_address_is_not_delayed_by_an_attack():
    g = Guesser()
    for i in range(100):
        g.attempt("203.0.113.9", "acme", wrong(i))
    g.run(5)
    for _ in range(3):
        d = g.attempt("198.51.100.7", "acme", RIGHT)  # the customer, elsewhere
        assert d.called and d.result is True
        g.run(3)


def test_a_right_guess_from_the_attacking_address_waits_its_turn_like_a_wrong_one():
    g = Guesser()
    for i in range(10):
        g.attempt("203.0.113.9", "acme", wrong(i))
    d = g.attempt("203.0.113.9", "acme", RIGHT)
    g.run(1)
    assert not d.called  # no fast answer that would tell the right guess apart
    g.run(60)
    assert d.called  # its turn came (or it was refused unchecked), never early


def test_sequential_failures_are_slowed_0_5_s_doubling_to_8_s_and_a_success_resets():
    g = Guesser()
    waits = []
    for i in range(9):
        asked = g.clock.seconds()
        d = g.attempt("203.0.113.9", "acme", wrong(i))
        while not d.called:
            g.clock.advance(0.25)
        waits.append(g.clock.seconds() - asked)
    assert waits == [0, 0, 0, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    d = g.attempt("203.0.113.9", "acme", RIGHT)
    g.run(8.5)
    assert d.result is True
    assert g.attempt("203.0.113.9", "acme", wrong(99)).called  # free again


def test_the_same_guess_sent_many_times_at_once_is_one_attempt():
    g = Guesser()
    held = [g.attempt("192.0.2.1", "acme", RIGHT, hold=True) for _ in range(1000)]
    assert all(d.called for d in held)  # a restart's bind storm: all admitted together
    held[0].result.done(True)
    for d in held[1:]:
        d.result.done(True)  # the others' reports are ignored
    assert g.limiter.tracked() == (0, 0, 0)


def test_identical_wrong_guesses_count_once():
    g = Guesser()
    held = [g.attempt("203.0.113.9", "acme", wrong(1), hold=True) for _ in range(50)]
    for d in held:
        d.result.done(False)
    for i in range(2):  # two failures left before the turns start
        assert g.attempt("203.0.113.9", "acme", wrong(10 + i)).called
    assert not g.attempt("203.0.113.9", "acme", wrong(20)).called


def test_many_accounts_from_one_clean_address_go_through_at_the_verifiers_pace():
    g = Guesser()
    held = [g.attempt("192.0.2.1", f"acct{i}", RIGHT, hold=True) for i in range(100)]
    assert sum(d.called for d in held) == 3  # three checks at a time from one address
    for _ in range(100):
        ready = next(d for d in held if d.called and d.result is not None)
        ready.result.done(True)  # ...each success lets the next one in, without a wait
        ready.result = None
    assert all(d.called for d in held)
    assert g.elapsed() == 0


def test_parallel_guesses_from_a_clean_address_wait_for_the_outcome_of_the_first_ones():
    g = Guesser()
    held = [g.attempt("203.0.113.9", "acme", wrong(i), hold=True) for i in range(10)]
    assert [d.called for d in held] == [True] * 3 + [False] * 7
    for d in held[:3]:
        d.result.done(False)
    assert not any(d.called for d in held[3:])  # now suspicious: each waits for its turn
    g.run(0.5)
    assert [d.called for d in held[3:]] == [True] + [False] * 6


def test_many_addresses_guessing_one_account_share_its_turns():
    g = Guesser()
    for n in range(30):  # every address uses up its free attempts on the account
        for i in range(3):
            g.attempt(f"10.0.{n}.1", "acme", wrong(100 * n + i))
    times_before = len(g.checked)
    for n in range(30):
        g.attempt(f"10.0.{n}.1", "acme", wrong(100 * n + 50))
    g.run(60)
    late = sorted(t - g.start for t, *_ in g.checked[times_before:])
    assert all(b - a >= 8.0 - 1e-9 for a, b in zip(late, late[1:], strict=False)), late
    assert g.attempt("198.51.100.7", "acme", RIGHT).called  # a clean address: at once


def test_successes_on_its_own_account_do_not_clear_failures_on_another():
    g = Guesser()
    for i in range(2):  # two failures on the victim, then a success of its own: clean again
        g.attempt("203.0.113.9", "victim", wrong(2 * i))
        g.attempt("203.0.113.9", "victim", wrong(2 * i + 1))
        g.run(10)
        assert g.attempt("203.0.113.9", "mine", RIGHT).result is True
    d = g.attempt("203.0.113.9", "victim", wrong(10))
    assert not d.called  # but it has failed on the victim 4 times: it waits its turn (1 s)
    g.run(0.95)
    assert not d.called
    g.run(0.1)
    assert d.called


def test_a_turn_too_far_away_is_refused_at_once_and_takes_no_slot():
    g = Guesser(AttemptPolicy(max_wait=5.0))
    for i in range(3):
        g.attempt("203.0.113.9", "acme", wrong(i))
    waiting = [g.attempt("203.0.113.9", "acme", wrong(10 + i)) for i in range(3)]  # 0.5 1.5 3.5
    refused = g.attempt("203.0.113.9", "acme", wrong(20))  # would be 7.5 s away
    assert isinstance(refused.result, TooManyAttempts)
    assert 2.0 < refused.result.retry_after <= 2.5
    assert not any(d.called for d in waiting)
    g.run(3.6)
    assert all(d.called for d in waiting)
    assert len(g.checked) == 6  # the refused guess was never checked


def test_a_withdrawn_attempt_is_never_checked_nor_counted():
    g = Guesser()
    for i in range(3):
        g.attempt("203.0.113.9", "acme", wrong(i))
    d = g.attempt("203.0.113.9", "acme", wrong(10))
    d.addErrback(lambda f: f.trap(CancelledError))
    d.cancel()  # the connection went away while it waited for its turn at 0.5 s
    later = g.attempt("203.0.113.9", "acme", wrong(11))
    g.run(0.95)
    assert not later.called  # the withdrawn one's turn stays taken: this one's is 1 s
    g.run(0.1)
    assert later.called
    assert [guess for *_, guess in g.checked] == [wrong(0), wrong(1), wrong(2), wrong(11)]


def test_failures_are_forgotten_after_quiet_time_and_clean_addresses_leave_nothing():
    g = Guesser(AttemptPolicy(forget_after=300.0))
    for i in range(5):
        g.attempt("203.0.113.9", "acme", wrong(i))
    g.run(20)
    g.clock.advance(301)
    assert g.attempt("203.0.113.9", "acme", wrong(50)).called
    for i in range(200):
        g.attempt(f"192.0.2.{i % 250}", f"acct{i}", RIGHT)
    sources, pairs, accounts = g.limiter.tracked()
    assert sources == 1 and pairs == 1  # only the failing address and its pair
    assert accounts == 1


def test_the_tables_stay_bounded_under_a_distributed_attack():
    g = Guesser(max_tracked=1000)
    for i in range(5000):
        g.attempt(f"10.{i // 250 % 250}.{i % 250}.1", f"acct{i}", wrong(i))
    assert all(n <= 1000 for n in g.limiter.tracked())


def test_a_duplicate_guess_withdrawn_early_does_not_hide_the_others_failure():
    g = Guesser()
    for round_ in range(3):
        first = g.attempt("203.0.113.9", "acme", wrong(round_), hold=True)
        second = g.attempt("203.0.113.9", "acme", wrong(round_), hold=True)
        first.result.done(None)  # gone before its check
        second.result.done(False)  # the duplicate learned the answer: it counts
    assert not g.attempt("203.0.113.9", "acme", wrong(9)).called  # 3 failures: suspicious


def test_failures_older_than_forget_after_do_not_add_up_with_a_new_one():
    g = Guesser(AttemptPolicy(forget_after=300.0))
    g.attempt("203.0.113.9", "acme", wrong(0))
    g.attempt("203.0.113.9", "acme", wrong(1))
    held = g.attempt("203.0.113.9", "acme", wrong(2), hold=True)  # a check that takes long
    g.clock.advance(301)
    held.result.done(False)
    assert g.attempt("203.0.113.9", "acme", wrong(3)).called  # 1 recent failure, not 3
