"""The operators' parts of a running gateway, built around the service's components:
queue depths, the rate history, readiness, the /metrics /health /ready endpoints and the
optional metrics listener. service.py creates the metrics and this, and starts and stops
it with the rest."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from gateway.config import MetricsConfig
from gateway.core.ports import OpsStore
from gateway.http.access_log import AccessLog
from gateway.http.connection_guard import ConnectionLimits, GuardedSite
from gateway.ops.depths import QueueDepths
from gateway.ops.endpoints import OpsEndpoints
from gateway.ops.health import Readiness, listener_check, route_check
from gateway.ops.history import RateHistory
from gateway.ops.metrics import GatewayMetrics, connector_gauges

__all__ = ["OpsRuntime"]

log = Logger()


class OpsRuntime:
    def __init__(self, *, config: MetricsConfig, store: OpsStore, clock: IReactorTime,
                 metrics: GatewayMetrics | None) -> None:
        self.config = config
        self.metrics = metrics
        self._store = store
        self._clock = clock
        self.depths = QueueDepths(store, clock)
        self.history = RateHistory(metrics, clock) if metrics is not None else None
        self.readiness: Readiness | None = None
        self.endpoints = OpsEndpoints(metrics=metrics, readiness=None, token=config.token)
        self._port: Any = None

    def attach(self, parts: Any, ports: Callable[[], Sequence[tuple[str, Any]]],
               expected_listeners: int) -> None:
        """Hook onto the wired components (service.Components) and the listeners."""
        registry = parts.registry
        self.readiness = Readiness(
            store=self._store, clock=self._clock,
            listeners=listener_check(ports, expected_listeners),
            routes=route_check(lambda: registry.table, registry.is_up))
        self.endpoints = OpsEndpoints(metrics=self.metrics, readiness=self.readiness,
                                      token=self.config.token)
        if self.metrics is not None:
            self.metrics.attach(
                binds=parts.binds, connectors=connector_gauges(parts.simulator, registry),
                depths=self.depths.latest,
                webhooks=parts.webhooks.stats if parts.webhooks is not None else dict)

    def start(self) -> None:
        self.depths.start()
        if self.history is not None:
            self.history.start()

    async def listen(self, reactor: Any, limits: ConnectionLimits = ConnectionLimits(),
                     access_log: AccessLog = AccessLog()) -> None:
        """The metrics listener of `[metrics] port`, when one is set, with the HTTP
        listener's `limits` on slow and greedy clients and its `access_log`."""
        config = self.config
        if not config.port:
            return
        endpoint_cls = TCP6ServerEndpoint if ":" in config.host else TCP4ServerEndpoint
        # scrapes are GETs: a small body cap is plenty
        site = GuardedSite(self.endpoints.app.resource(), max_body=4096, limits=limits,
                           reactor=reactor, access_log=access_log)
        site.noisy = False
        self._port = await endpoint_cls(reactor, config.port, interface=config.host).listen(site)
        log.info("metrics listening on {host}:{port}", host=config.host,
                 port=self._port.getHost().port, event="listening")

    async def stop(self) -> None:
        self.depths.stop()
        if self.history is not None:
            self.history.stop()
        if self._port is not None:
            await self._port.stopListening()
            self._port = None
