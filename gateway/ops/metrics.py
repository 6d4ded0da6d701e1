"""The gateway's Prometheus metrics: counted cheaply on the hot path, exposed at scrape time.

Theory of operation
-------------------
A message costs the gateway about 70 µs of CPU, and the metrics may add at most 5 %. A
`prometheus_client` Counter child costs ~0.4-2 µs per `inc()` (a lock and two calls) and a
Histogram ~1-3 µs per `observe()`, several per message: too much. So the hot path only
bumps plain integers and bucket lists (`Buckets.observe` is one C bisect and two adds),
on the reactor thread, and `GatewayCollector` turns them into metric families when
Prometheus scrapes, through `prometheus_client`'s own registry and exposition. Gauges
(binds, connectors, queue depths, webhook counters) are read from the live objects at
scrape time, so they cost nothing between scrapes.

The store's histograms are fed from the group-commit writer thread; only that thread
writes them, so no update is lost (a scrape may see a batch's count before its sum).
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from gateway.core.binds import BindRegistry
from gateway.model import BindKind, Channel, DeliveryKind, MessageState, OutboxItem
from gateway.smpp.constants import CommandStatus

__all__ = ["Buckets", "GatewayMetrics", "status_label"]

SUBMIT_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                          1.0, 2.5, 5.0)
STORE_COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                        2.5)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

_MODE = {BindKind.TRANSMITTER: "tx", BindKind.RECEIVER: "rx", BindKind.TRANSCEIVER: "trx"}
_FINAL_STATES = [s for s in MessageState if s.is_final]
# Enum members read per message, bound once (smpp/constants.py says why)
_RECEIPT, _WEBHOOK = DeliveryKind.RECEIPT, Channel.WEBHOOK


def status_label(status: int) -> str:
    """The `status` label of a submit: 'ok' or the ESME name (hex when it has none)."""
    if status == 0:
        return "ok"
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


class Buckets:
    """A histogram's counts, written by one thread, read at scrape time."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # `le`: value <= bound
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        cumulative, running = [], 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            cumulative.append((floatToGoString(bound), running))
        cumulative.append(("+Inf", running + self.counts[-1]))
        return HistogramMetricFamily(name, documentation, buckets=cumulative,
                                     sum_value=self.sum)


class GatewayMetrics:
    """Every counter the gateway keeps for Prometheus, and the registry that exposes them.

    Created in service.py and handed to the parts that count; `attach` tells it where the
    live gauges come from once those parts exist.
    """

    def __init__(self, *, accounts: Iterable[str] = (), process: bool = True) -> None:
        self.smpp_ok = 0
        self.http_ok = 0
        self.refused: dict[tuple[str, str], int] = {}  # (transport, status) -> count
        self.finals = [0] * (max(MessageState) + 1)  # by MessageState value
        self.receipts_smpp = 0
        self.receipts_webhook = 0
        self.bind_failures: dict[str, int] = {}
        self.latency = Buckets(SUBMIT_LATENCY_BUCKETS)
        self.store_commit = Buckets(STORE_COMMIT_BUCKETS)
        self.store_batch = Buckets(BATCH_SIZE_BUCKETS)
        self.per_account: dict[str, int] = {a: 0 for a in accounts}
        self._binds: BindRegistry | None = None
        self._connectors: Callable[[], dict[str, tuple[bool, int]]] = dict
        self._depths: Callable[[], dict[str, int]] = dict
        self._webhooks: Callable[[], dict[str, int]] = dict
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(GatewayCollector(self))
        if process:
            ProcessCollector(registry=self.registry)

    def attach(self, *, binds: BindRegistry | None = None,
               connectors: Callable[[], dict[str, tuple[bool, int]]] | None = None,
               depths: Callable[[], dict[str, int]] | None = None,
               webhooks: Callable[[], dict[str, int]] | None = None) -> None:
        """Where the gauges are read at scrape time: the live binds, each connector's
        (up, in flight), the store's queue depths and the webhook sender's counters."""
        if binds is not None:
            self._binds = binds
        if connectors is not None:
            self._connectors = connectors
        if depths is not None:
            self._depths = depths
        if webhooks is not None:
            self._webhooks = webhooks

    # --- the hot path (reactor thread) -------------------------------------------------------
    def smpp_submitted(self, account: str, started: float) -> None:
        """A submit_sm was answered ESME_ROK; `started` is perf_counter() at its read."""
        self.smpp_ok += 1
        self.latency.observe(perf_counter() - started)
        if self.per_account and account in self.per_account:
            self.per_account[account] += 1

    def smpp_accepted(self, account: str, messages: int) -> None:
        """Accepted over SMPP by data_sm or submit_multi (not in the submit_sm latency)."""
        self.smpp_ok += messages
        if self.per_account and account in self.per_account:
            self.per_account[account] += messages

    def http_submitted(self, account: str, messages: int) -> None:
        self.http_ok += messages
        if self.per_account and account in self.per_account:
            self.per_account[account] += messages

    def submit_refused(self, transport: str, status: int) -> None:
        key = (transport, status_label(status))
        self.refused[key] = self.refused.get(key, 0) + 1

    def message_final(self, state: MessageState) -> None:
        self.finals[state] += 1

    def item_delivered(self, item: OutboxItem) -> None:
        """An outbox item reached its account (deliver_sm_resp OK, or a webhook's 2xx)."""
        if item.kind is _RECEIPT:
            if item.channel is _WEBHOOK:
                self.receipts_webhook += 1
            else:
                self.receipts_smpp += 1

    def bind_failed(self, status: int) -> None:
        key = status_label(status)
        self.bind_failures[key] = self.bind_failures.get(key, 0) + 1

    # --- the store's writer thread ------------------------------------------------------------
    def store_batch_done(self, seconds: float, operations: int) -> None:
        """A write transaction of `operations` committed in `seconds` (BEGIN to COMMIT)."""
        self.store_commit.observe(seconds)
        self.store_batch.observe(operations)

    # --- read at scrape time (and by the console) -----------------------------------------
    @property
    def submits_ok(self) -> int:
        return self.smpp_ok + self.http_ok

    @property
    def receipts_sent(self) -> int:
        return self.receipts_smpp + self.receipts_webhook

    def binds_by_mode(self) -> dict[str, int]:
        counts = dict.fromkeys(_MODE.values(), 0)
        if self._binds is not None:
            for channel in self._binds:
                counts[_MODE[channel.kind]] += 1
        return counts

    def connectors(self) -> dict[str, tuple[bool, int]]:
        return self._connectors()

    def depths(self) -> dict[str, int]:
        return self._depths()

    def webhook_stats(self) -> dict[str, int]:
        return self._webhooks()


class GatewayCollector:
    """Builds the metric families from a GatewayMetrics when the registry is scraped."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._m
        yield self._submits()
        finals = CounterMetricFamily(
            "smsgw_messages_final", "Messages that reached a final state, by receipt stat.",
            labels=["state"])
        for state in _FINAL_STATES:
            finals.add_metric([state.receipt_stat], m.finals[state])
        yield finals
        receipts = CounterMetricFamily(
            "smsgw_receipts_sent", "Delivery receipts acknowledged by their account.",
            labels=["via"])
        receipts.add_metric(["smpp"], m.receipts_smpp)
        receipts.add_metric(["webhook"], m.receipts_webhook)
        yield receipts
        yield from self._gauges()
        failures = CounterMetricFamily(
            "smsgw_bind_failures", "SMPP binds refused, by command_status.", labels=["status"])
        for status, count in sorted(m.bind_failures.items()):
            failures.add_metric([status], count)
        yield failures
        yield m.latency.family("smsgw_submit_latency_seconds",
                               "SMPP submit_sm read to submit_sm_resp written.")
        yield m.store_commit.family("smsgw_store_commit_seconds",
                                    "Store write transactions, BEGIN to COMMIT.")
        yield m.store_batch.family("smsgw_store_batch_size",
                                   "Operations per committed store transaction.")
        if m.per_account:
            per = CounterMetricFamily(
                "smsgw_account_submits", "Messages accepted, for the accounts of "
                "[metrics] accounts.", labels=["account"])
            for account, count in sorted(m.per_account.items()):
                per.add_metric([account], count)
            yield per

    def _submits(self) -> Metric:
        m = self._m
        submits = CounterMetricFamily(
            "smsgw_submits", "Messages submitted, by front-end and answer.",
            labels=["transport", "status"])
        submits.add_metric(["smpp", "ok"], m.smpp_ok)
        submits.add_metric(["http", "ok"], m.http_ok)
        for (transport, status), count in sorted(m.refused.items()):
            submits.add_metric([transport, status], count)
        return submits

    def _gauges(self) -> Iterator[Metric]:
        m = self._m
        depths = m.depths()
        yield _gauge("smsgw_receipts_pending",
                     "Receipts and MO in the store waiting for an SMPP bind to take them.",
                     depths.get("receipts_pending", 0))
        binds = GaugeMetricFamily("smsgw_binds", "Live SMPP binds, by mode.", labels=["mode"])
        for mode, count in m.binds_by_mode().items():
            binds.add_metric([mode], count)
        yield binds
        stats = m.webhook_stats()
        webhooks = CounterMetricFamily(
            "smsgw_webhooks", "Webhook attempts since start, by outcome.", labels=["outcome"])
        for outcome in ("delivered", "failed", "dead"):
            webhooks.add_metric([outcome], stats.get(outcome, 0))
        yield webhooks
        yield _gauge("smsgw_webhook_outbox_pending", "Webhooks waiting to be delivered.",
                     depths.get("webhooks_pending", 0))
        yield _gauge("smsgw_webhook_outbox_dead", "Dead-lettered webhooks kept for replay.",
                     depths.get("webhooks_dead", 0))
        yield _gauge("smsgw_messages_unfinished",
                     "Accepted messages not final yet (en route or scheduled).",
                     depths.get("unfinished", 0))
        up = GaugeMetricFamily("smsgw_connector_up", "1 while the connector can submit.",
                               labels=["connector"])
        inflight = GaugeMetricFamily("smsgw_connector_inflight",
                                     "Messages handed to the connector and not answered yet.",
                                     labels=["connector"])
        for name, (is_up, in_flight) in sorted(m.connectors().items()):
            up.add_metric([name], 1 if is_up else 0)
            inflight.add_metric([name], in_flight)
        yield up
        yield inflight


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def connector_gauges(simulator: Any, registry: Any) -> Callable[[], dict[str, tuple[bool, int]]]:
    """(up, in flight) per connector: the simulator (always up) and each upstream one."""

    def read() -> dict[str, tuple[bool, int]]:
        found = {simulator.name: (True, simulator.pending())}
        for name, health in registry.health().items():
            found[name] = (bool(health["up"]), int(health["window_used"]))
        return found

    return read
