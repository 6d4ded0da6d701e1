"""The route table: longest prefix, account and source filters, failover, weighted round
robin, and the simulator as the default."""
from __future__ import annotations

from collections import Counter

import pytest

from gateway.core.routing import Route, RouteError, RouteTable, RouteTarget


def route(prefix: str, *targets: str | tuple[str, int], rid: int = 0, **kw) -> Route:
    made = tuple(RouteTarget(connector=t) if isinstance(t, str)
                 else RouteTarget(connector=t[0], weight=t[1]) for t in targets)
    return Route(prefix=prefix, targets=made, id=rid, **kw)


def up(*names: str):
    return lambda name: name in names


ALL_UP = up("a", "b", "c", "d")


def test_no_route_means_the_default():
    table = RouteTable([], "simulator")
    assert not table
    assert table.choose("acme", "x", "4917", ALL_UP) == "simulator"


def test_unmatched_destination_goes_to_the_default():
    table = RouteTable([route("49", "a")], "simulator")
    assert table.choose("acme", "x", "3312345", ALL_UP) == "simulator"


def test_longest_prefix_wins_whatever_the_order():
    table = RouteTable([route("4", "a", rid=1), route("4917", "c", rid=2),
                        route("49", "b", rid=3)], "simulator")
    assert table.choose("acme", "x", "491700", ALL_UP) == "c"
    assert table.choose("acme", "x", "491800", ALL_UP) == "b"
    assert table.choose("acme", "x", "+4300", ALL_UP) == "a"


def test_account_filter():
    table = RouteTable([route("49", "a", rid=1), route("49", "b", rid=2, account="vip")],
                       "simulator")
    assert table.choose("vip", "x", "4917", ALL_UP) == "b"
    assert table.choose("other", "x", "4917", ALL_UP) == "a"


def test_source_filter():
    table = RouteTable([route("", "a", rid=1), route("", "b", rid=2, source_prefix="BANK")],
                       "simulator")
    assert table.choose("acme", "BANK-DE", "4917", ALL_UP) == "b"
    assert table.choose("acme", "SHOP", "4917", ALL_UP) == "a"


def test_failover_to_the_next_connector_of_the_route():
    table = RouteTable([route("49", "a", "b")], "simulator")
    assert {table.choose("x", "s", "49", up("b")) for _ in range(5)} == {"b"}


def test_failover_to_a_less_specific_route_when_all_of_a_route_are_down():
    table = RouteTable([route("4917", "a", rid=1), route("49", "b", rid=2)], "simulator")
    assert table.choose("x", "s", "491700", up("b")) == "b"


def test_nothing_up_waits_at_the_most_specific_routes_first_target():
    table = RouteTable([route("4917", "a", "c", rid=1), route("49", "b", rid=2)], "simulator")
    assert table.choose("x", "s", "491700", up()) == "a"


def test_weighted_round_robin_shares_by_weight_and_interleaves():
    table = RouteTable([route("", ("a", 3), ("b", 1))], "simulator")
    picks = [table.choose("x", "s", "49", ALL_UP) for _ in range(8)]
    assert Counter(picks) == {"a": 6, "b": 2}
    assert picks[:4].count("b") == 1  # smooth: b is not left to the end


def test_weighted_round_robin_skips_a_connector_that_is_down():
    table = RouteTable([route("", ("a", 3), ("b", 1), ("c", 1))], "simulator")
    picks = Counter(table.choose("x", "s", "49", up("b", "c")) for _ in range(10))
    assert picks == {"b": 5, "c": 5}


def test_routes_need_connectors_and_digit_prefixes():
    with pytest.raises(RouteError):
        Route(prefix="49", targets=())
    with pytest.raises(RouteError):
        route("49x", "a")
    with pytest.raises(RouteError):
        RouteTarget(connector="a", weight=0)


def test_a_preview_does_not_take_a_turn():
    table = RouteTable([route("", "a", "b")], "simulator")
    for _ in range(3):
        assert table.choose("x", "s", "49", ALL_UP, advance=False) == "a"
    assert [table.choose("x", "s", "49", ALL_UP) for _ in range(4)] == ["a", "b", "a", "b"]
