"""Console sessions: who logged in with the admin token, held in memory (a restart logs
everyone out), each with its CSRF token and a one-shot notice for the next page.

The cookie carries only a random session id (HttpOnly, SameSite=Strict, Path=/console/);
every change is a POST whose form carries the session's CSRF token as well. A session ends
after IDLE seconds without a request, or MAX_AGE after the login, or at logout. Failed
logins from one address are slowed down (0.5 s doubling up to 8 s after three), like binds.
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

__all__ = ["LoginThrottle", "Session", "Sessions"]

IDLE = 30 * 60.0
MAX_AGE = 12 * 3600.0
MAX_SESSIONS = 1000


@dataclass
class Session:
    id: str
    csrf: str
    created: float
    seen: float
    notice: tuple[str, str] | None = None  # (kind: "ok" | "error", text) for the next page

    def csrf_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.csrf.encode())

    def take_notice(self) -> tuple[str, str] | None:
        notice, self.notice = self.notice, None
        return notice


@dataclass
class Sessions:
    _live: dict[str, Session] = field(default_factory=dict)

    def start(self, now: float) -> Session:
        self._expire(now)
        if len(self._live) >= MAX_SESSIONS:  # the oldest goes: memory stays bounded
            del self._live[min(self._live.values(), key=lambda s: s.seen).id]
        session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32),
                          created=now, seen=now)
        self._live[session.id] = session
        return session

    def get(self, session_id: str | None, now: float) -> Session | None:
        session = self._live.get(session_id or "")
        if session is None:
            return None
        if now - session.seen > IDLE or now - session.created > MAX_AGE:
            del self._live[session.id]
            return None
        session.seen = now
        return session

    def end(self, session_id: str) -> None:
        self._live.pop(session_id, None)

    def _expire(self, now: float) -> None:
        for session in list(self._live.values()):
            if now - session.seen > IDLE or now - session.created > MAX_AGE:
                del self._live[session.id]


@dataclass
class LoginThrottle:
    """Failed logins per address; `delay` is how long the next answer waits."""

    free: int = 3
    first: float = 0.5
    cap: float = 8.0
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)

    def delay(self, peer: str, now: float) -> float:
        count, last = self._failures.get(peer, (0, 0.0))
        if now - last > 15 * 60:
            return 0.0
        extra = count - self.free
        return 0.0 if extra < 0 else min(self.cap, self.first * 2 ** extra)

    def failed(self, peer: str, now: float) -> None:
        count, last = self._failures.get(peer, (0, 0.0))
        if now - last > 15 * 60:
            count = 0
        if len(self._failures) > 10_000:
            self._failures.clear()
        self._failures[peer] = (count + 1, now)

    def succeeded(self, peer: str) -> None:
        self._failures.pop(peer, None)
