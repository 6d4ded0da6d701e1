"""Reactor-thread CPU of one HTTP Basic login whose password was checked recently.

    python bench/auth_cost.py [--logins 200000] [--repeat 5] [--accounts 1] [--awaited]

The real HttpAuthenticator over the real PasswordLogins (limiter, credential checker) and
a store that answers get_account at once, on a task.Clock: no sockets, threads or scrypt
after the first login of each account. Every login is what a keep-alive client's request
pays before its submit (a remembered password, a cached account, a clean address):
account_at_once, which PublicApi asks first; `--awaited` times account_for instead. Prints
the microseconds per login, best of `--repeat`; `--accounts` spreads the logins over
several accounts (each one's first login runs scrypt, about 50 ms, before the timing).
Complements http_api.py, whose single sends carry this cost among many others: here a
change of a microsecond shows. Not a test.
"""
from __future__ import annotations

import argparse
import base64
import gc
import sys
import time
from collections.abc import Coroutine
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout without installing it

from twisted.internet.defer import Deferred, succeed  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402

from gateway.config import AuthConfig  # noqa: E402
from gateway.core.passwords import hash_password  # noqa: E402
from gateway.core.verifier import InlineVerifier  # noqa: E402
from gateway.http.auth import HttpAuthenticator  # noqa: E402
from gateway.model import Account  # noqa: E402
from gateway.service import password_logins  # noqa: E402

PASSWORD = "secret12"


class Accounts:
    """get_account answered at once (the authenticator caches it anyway)."""

    def __init__(self, accounts: dict[str, Account]) -> None:
        self._accounts = accounts

    def get_account(self, system_id: str) -> Deferred[Account | None]:
        return succeed(self._accounts.get(system_id))

    def account_for_api_key(self, key_hash: str) -> Deferred[Account | None]:
        return succeed(None)


def run(logins: int, accounts: int, awaited: bool) -> float:
    """Microseconds per login over `logins` logins spread over `accounts` accounts; each
    answered by account_at_once as PublicApi asks first, or (`awaited`) by account_for."""
    clock = Clock()
    clock.advance(1_000_000)
    hashed = hash_password(PASSWORD)
    table = {f"acct{n}": Account(system_id=f"acct{n}", password_hash=hashed)
             for n in range(accounts)}
    store = Accounts(table)
    auth = HttpAuthenticator(store, store, clock,  # type: ignore[arg-type]
                             password_logins(AuthConfig(), clock, InlineVerifier(), 300.0))
    headers = [b"Basic " + base64.b64encode(f"{name}:{PASSWORD}".encode()) for name in table]
    found: list[Account] = []
    for header in headers:  # the first login of each runs scrypt and is remembered
        auth.authenticate(header, "127.0.0.1").addCallback(found.append)
    if len(found) != accounts:
        raise SystemExit("a first login failed")
    rounds = [headers[n % accounts] for n in range(logins)]
    gc.collect()
    start = time.perf_counter()
    if awaited:
        for header in rounds:  # awaited as PublicApi would: no Deferred of its own
            answered_at_once(auth.account_for(header, "127.0.0.1"))
    else:
        for header in rounds:
            if auth.account_at_once(header, "127.0.0.1") is None:
                raise SystemExit("account_at_once declined a remembered login")
    return (time.perf_counter() - start) / logins * 1e6


def answered_at_once(coroutine: Coroutine[object, None, Account]) -> Account:
    """The coroutine's result when it never waits; SystemExit when it would."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise SystemExit("a login waited: the bench measures logins answered at once")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--accounts", type=int, default=1)
    parser.add_argument("--awaited", action="store_true",
                        help="through account_for (the coroutine every refusal takes), "
                             "not account_at_once")
    args = parser.parse_args()
    costs = [run(args.logins, args.accounts, args.awaited) for _ in range(args.repeat)]
    way = "account_for" if args.awaited else "account_at_once"
    print(f"HTTP Basic, remembered password, {way}: {min(costs):.2f} µs per login "
          f"(best of {args.repeat}; all: {', '.join(f'{c:.2f}' for c in costs)})")


if __name__ == "__main__":
    main()
