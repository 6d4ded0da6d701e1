"""The route table (R2): which connector a message leaves through.

A route matches a message when the destination starts with its `prefix` (digits,
'+' ignored), and, when set, the account equals `account` and the source address
starts with `source_prefix`. Of the matching routes the most specific wins: the longest
destination prefix, then an account filter, then the longest source filter, then the
oldest route. Its targets are tried as a weighted round robin (smooth WRR, as nginx does
it) across the connectors that are up; when none of them is up the next matching route
is tried (failover), and when no route has a connector up the message waits at the most
specific route's first target (it goes when that connector binds). No matching route:
the default connector (the simulator), so a fresh install works.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Route", "RouteError", "RouteTable", "RouteTarget"]


class RouteError(ValueError):
    pass


@dataclass(frozen=True, kw_only=True)
class RouteTarget:
    connector: str
    weight: int = 1

    def __post_init__(self) -> None:
        if not self.connector:
            raise RouteError("a route target needs a connector name")
        if self.weight < 1:
            raise RouteError(f"weight of {self.connector}: must be at least 1")


@dataclass(frozen=True, kw_only=True)
class Route:
    prefix: str  # destination prefix; '' matches every destination
    targets: tuple[RouteTarget, ...]
    account: str = ""  # '' = any account
    source_prefix: str = ""  # '' = any source address
    id: int = 0  # given by the store

    def __post_init__(self) -> None:
        if not self.targets:
            raise RouteError("a route needs at least one connector")
        bare = self.prefix.lstrip("+")
        if bare and not bare.isdigit():
            raise RouteError(f"prefix {self.prefix!r}: digits only")

    def matches(self, account: str, source: str, destination: str) -> bool:
        return (destination.startswith(self.prefix.lstrip("+"))
                and (not self.account or self.account == account)
                and source.startswith(self.source_prefix))

    @property
    def specificity(self) -> tuple[int, int, int, int]:
        return (len(self.prefix.lstrip("+")), 1 if self.account else 0,
                len(self.source_prefix), -self.id)


class _WeightedRoundRobin:
    """Smooth weighted round robin over the targets that are up (nginx's algorithm:
    the heaviest target does not go in bursts)."""

    def __init__(self, targets: Sequence[RouteTarget]) -> None:
        self._targets = tuple(targets)
        self._current = [0] * len(self._targets)

    def pick(self, is_up: Callable[[str], bool], advance: bool = True) -> str | None:
        """The next target that is up; `advance=False` answers without taking the turn."""
        targets = self._targets
        if len(targets) == 1:  # most routes: no turn to take
            only = targets[0].connector
            return only if is_up(only) else None
        best, total = -1, 0
        current = list(self._current)
        for i, target in enumerate(self._targets):
            if not is_up(target.connector):
                continue
            current[i] += target.weight
            total += target.weight
            if best < 0 or current[i] > current[best]:
                best = i
        if best < 0:
            return None
        if advance:
            current[best] -= total
            self._current = current
        return self._targets[best].connector


class RouteTable:
    """Routes in order of specificity, each with its round-robin state."""

    def __init__(self, routes: Sequence[Route], default: str) -> None:
        self.default = default
        self.routes = tuple(sorted(routes, key=lambda r: r.specificity, reverse=True))
        self._rr = [_WeightedRoundRobin(route.targets) for route in self.routes]

    def __bool__(self) -> bool:
        return bool(self.routes)

    def choose(self, account: str, source: str, destination: str,
               is_up: Callable[[str], bool], advance: bool = True) -> str:
        """The connector name for a message from `account`, `source` to `destination`;
        `advance=False` (a preview, e.g. the name stored at accept) leaves the round robin
        where it is."""
        if not self.routes:
            return self.default
        destination = destination.lstrip("+")
        first: Route | None = None
        for route, rr in zip(self.routes, self._rr, strict=True):
            if not route.matches(account, source, destination):
                continue
            if first is None:
                first = route
            picked = rr.pick(is_up, advance)
            if picked is not None:
                return picked
        if first is None:
            return self.default
        return first.targets[0].connector
