"""The metrics' own bookkeeping: buckets as Prometheus reads them, status labels, and the
families a scrape produces from the counters and the live gauges."""
from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.core.binds import BindRegistry
from gateway.model import Address, BindKind, Channel, DeliveryKind, MessageState, OutboxItem
from gateway.ops.metrics import Buckets, GatewayMetrics, status_label


def _samples(metrics: GatewayMetrics) -> dict:
    text = generate_latest(metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def _item(kind=DeliveryKind.RECEIPT, channel=Channel.SMPP) -> OutboxItem:
    return OutboxItem(id=1, account="acme", kind=kind, source=Address(),
                      destination=Address(), body=b"", channel=channel)


class _Channel:
    def __init__(self, account: str, kind: BindKind) -> None:
        self.account, self.kind = account, kind


def test_buckets_count_a_value_equal_to_a_bound_in_that_bound():
    buckets = Buckets((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        buckets.observe(value)
    family = buckets.family("x_seconds", "x")
    samples = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert samples[("x_seconds_bucket", "0.1")] == 2
    assert samples[("x_seconds_bucket", "1.0")] == 4
    assert samples[("x_seconds_bucket", "+Inf")] == 5
    assert samples[("x_seconds_count", None)] == 5
    assert samples[("x_seconds_sum", None)] == 8.65


def test_status_label_is_ok_the_esme_name_or_hex():
    assert status_label(0) == "ok"
    assert status_label(0x58) == "ESME_RTHROTTLED"
    assert status_label(0x40B) == "ESME_RINVBALANCE"
    assert status_label(0x12345) == "0x00012345"


def test_a_scrape_reports_every_counter_with_its_labels():
    m = GatewayMetrics(process=False)
    m.smpp_submitted("acme", 0.0)
    m.smpp_accepted("acme", 2)
    m.http_submitted("acme", 5)
    m.submit_refused("smpp", 0x58)
    m.submit_refused("http", 0x40B)
    m.message_final(MessageState.DELIVERED)
    m.message_final(MessageState.UNDELIVERABLE)
    m.item_delivered(_item())
    m.item_delivered(_item(channel=Channel.WEBHOOK))
    m.item_delivered(_item(kind=DeliveryKind.MO))  # an MO is not a receipt
    m.bind_failed(0x0E)
    m.store_batch_done(0.004, 120)
    s = _samples(m)
    assert s[("smsgw_submits_total", (("status", "ok"), ("transport", "smpp")))] == 3
    assert s[("smsgw_submits_total", (("status", "ok"), ("transport", "http")))] == 5
    assert s[("smsgw_submits_total", (("status", "ESME_RTHROTTLED"),
                                      ("transport", "smpp")))] == 1
    assert s[("smsgw_submits_total", (("status", "ESME_RINVBALANCE"),
                                      ("transport", "http")))] == 1
    assert s[("smsgw_messages_final_total", (("state", "DELIVRD"),))] == 1
    assert s[("smsgw_messages_final_total", (("state", "UNDELIV"),))] == 1
    assert s[("smsgw_messages_final_total", (("state", "EXPIRED"),))] == 0
    assert s[("smsgw_receipts_sent_total", (("via", "smpp"),))] == 1
    assert s[("smsgw_receipts_sent_total", (("via", "webhook"),))] == 1
    assert s[("smsgw_bind_failures_total", (("status", "ESME_RINVPASWD"),))] == 1
    assert s[("smsgw_submit_latency_seconds_count", ())] == 1  # submit_sm only
    assert s[("smsgw_store_batch_size_sum", ())] == 120
    assert s[("smsgw_store_commit_seconds_count", ())] == 1
    assert ("smsgw_account_submits_total", (("account", "acme"),)) not in s  # not opted in


def test_gauges_are_read_from_the_live_parts_at_scrape_time():
    m = GatewayMetrics(process=False)
    binds = BindRegistry()
    binds.add(_Channel("acme", BindKind.TRANSCEIVER))
    binds.add(_Channel("acme", BindKind.RECEIVER))
    depths = {"unfinished": 4, "receipts_pending": 3, "webhooks_pending": 2,
              "webhooks_dead": 1}
    m.attach(binds=binds, connectors=lambda: {"simulator": (True, 7), "op1": (False, 0)},
             depths=lambda: depths,
             webhooks=lambda: {"delivered": 9, "failed": 2, "dead": 1})
    s = _samples(m)
    assert s[("smsgw_binds", (("mode", "trx"),))] == 1
    assert s[("smsgw_binds", (("mode", "rx"),))] == 1
    assert s[("smsgw_binds", (("mode", "tx"),))] == 0
    assert s[("smsgw_connector_up", (("connector", "op1"),))] == 0
    assert s[("smsgw_connector_inflight", (("connector", "simulator"),))] == 7
    assert s[("smsgw_receipts_pending", ())] == 3
    assert s[("smsgw_webhook_outbox_pending", ())] == 2
    assert s[("smsgw_webhook_outbox_dead", ())] == 1
    assert s[("smsgw_messages_unfinished", ())] == 4
    assert s[("smsgw_webhooks_total", (("outcome", "delivered"),))] == 9
    depths["receipts_pending"] = 0
    assert _samples(m)[("smsgw_receipts_pending", ())] == 0


def test_per_account_series_exist_only_for_accounts_opted_in():
    m = GatewayMetrics(accounts=["acme"], process=False)
    m.smpp_submitted("acme", 0.0)
    m.http_submitted("acme", 2)
    m.http_submitted("other", 5)
    s = _samples(m)
    assert s[("smsgw_account_submits_total", (("account", "acme"),))] == 3
    assert ("smsgw_account_submits_total", (("account", "other"),)) not in s
