"""The UpstreamStore contract: connectors, routes, submit marks, upstream-id correlation,
refunds and health snapshots. Mixed into each backend's test classes beside StoreContract
(it uses that contract's `store` and `stores` fixtures)."""
from __future__ import annotations

from decimal import Decimal

import pytest
import pytest_twisted
from contract import make_account, make_message

from gateway.core.connector_settings import ConnectorSettings
from gateway.core.ports import ConnectorExists, UnknownConnector
from gateway.core.routing import Route, RouteTarget
from gateway.core.upstream_ids import id_keys

__all__ = ["UpstreamStoreContract"]


def _settings(name: str = "op1", **kw) -> ConnectorSettings:
    return ConnectorSettings(name=name, host="smsc.example", system_id="me", password="pw",
                             **kw)


async def _raises(d, kind):
    with pytest.raises(kind):
        await d


class UpstreamStoreContract:
    @pytest_twisted.ensureDeferred
    async def test_connectors_round_trip_and_bump_the_settings_version(self, store):
        before = await store.settings_version()
        await store.add_connector(_settings(tls=True, window=7, bind="pair"))
        assert await store.get_connector("op1") == _settings(tls=True, window=7, bind="pair")
        assert await store.settings_version() > before
        await _raises(store.add_connector(_settings()), ConnectorExists)
        await store.update_connector(_settings(window=3))
        assert [c.window for c in await store.list_connectors()] == [3]
        await store.remove_connector("op1")
        assert await store.list_connectors() == []
        await _raises(store.remove_connector("op1"), UnknownConnector)
        await _raises(store.update_connector(_settings()), UnknownConnector)

    @pytest_twisted.ensureDeferred
    async def test_routes_round_trip(self, store):
        route = Route(prefix="49", account="acme", source_prefix="BANK",
                      targets=(RouteTarget(connector="op1", weight=3),
                               RouteTarget(connector="op2")))
        route_id = await store.add_route(route)
        [stored] = await store.list_routes()
        assert stored.id == route_id and stored.targets == route.targets
        assert (stored.prefix, stored.account, stored.source_prefix) == ("49", "acme", "BANK")
        assert await store.remove_route(route_id) is True
        assert await store.remove_route(route_id) is False

    @pytest_twisted.ensureDeferred
    async def test_submit_marks_and_correlation(self, store):
        await store.add_account(make_account(balance="10"))
        await store.accept("acme", [make_message("1"), make_message("2")], Decimal("0.10"))
        await store.mark_submitting("1", "op1", 5.0)
        await store.mark_submitting("2", "op1", 5.0)
        records = await store.upstream_records(["1", "2", "3"])
        assert {k: r.status for k, r in records.items()} == {"1": "submitting",
                                                              "2": "submitting"}
        await store.record_submitted("1", "op1", "00AB", id_keys("00AB"), 6.0)
        await store.release_submit("2")
        records = await store.upstream_records(["1", "2"])
        assert list(records) == ["1"] and records["1"].upstream_id == "00AB"
        found = await store.find_by_upstream_id("op1", id_keys(str(0xAB)))
        assert found is not None and found.id == "1"
        assert await store.find_by_upstream_id("op2", id_keys("AB")) is None
        assert await store.find_by_upstream_id("op1", id_keys("AC")) is None

    @pytest_twisted.ensureDeferred
    async def test_marks_and_records_of_a_run_each_succeed_alone(self, store):
        await store.add_account(make_account(balance="10"))
        await store.accept("acme", [make_message("1"), make_message("2")], Decimal("0.10"))
        marks = await store.mark_submitting_each([("1", "op1", 5.0), ("2", "op1", 5.0)])
        assert marks == [(True, None), (True, None)]
        records = await store.record_submitted_each([
            ("1", "op1", "00AB", id_keys("00AB"), 6.0),
            ("2", "op1", "00AC", id_keys("00AC"), 6.0)])
        assert [ok for ok, _ in records] == [True, True]
        stored = await store.upstream_records(["1", "2"])
        assert {k: (r.status, r.upstream_id) for k, r in stored.items()} == {
            "1": ("submitted", "00AB"), "2": ("submitted", "00AC")}
        assert (await store.find_by_upstream_id("op1", id_keys(str(0xAC)))).id == "2"
        assert await store.mark_submitting_each([]) == []

    @pytest_twisted.ensureDeferred
    async def test_refund_happens_once(self, store):
        await store.add_account(make_account(balance="1"))
        await store.accept("acme", [make_message("1", price=Decimal("0.25"))], Decimal("0.25"))
        assert await store.refund("1") == Decimal("0.25")
        assert await store.refund("1") is None
        assert (await store.get_account("acme")).balance == Decimal("1")

    @pytest_twisted.ensureDeferred
    async def test_health_snapshots(self, store):
        await store.write_health({"op1": {"up": True}}, 10.0)
        await store.write_health({"op1": {"up": False}}, 12.0)
        assert await store.read_health() == {"op1": ({"up": False}, 12.0)}
