"""Two-way messaging against the real gateway: numbers owned by accounts, MO injected
through the admin API (the simulator plays the network) reaching a webhook whole whatever
the order of its parts, or an SMPP receiver as numbered parts; parts released after the
timeout instead of dropped; the simulator's echo mode answering a message with an MO."""
from __future__ import annotations

import pytest
from gateway_harness import Esme, wait_for
from webhook_receiver import Receiver

pytestmark = pytest.mark.integration

SECRET = "whsec-0123456789abcdef"
NUMBER = "4915550001"
HANDSET = "4917612345678"
LONG = "Thank you for your order! " * 12  # 312 GSM characters: 3 parts
CONFIG = {
    "simulator": {"delay": 0.01},
    "webhooks": {"timeout": 1.0, "retry_initial": 0.2, "retry_max": 1.0,
                 "poll_interval": 0.2},
    "inbound": {"reassembly_timeout": 1.0, "sweep_interval": 0.2},
}


@pytest.fixture
def receiver():
    r = Receiver(secret=SECRET).start()
    yield r
    r.stop()


def own(gw, number: str, account: str) -> None:
    """Through the admin API, which applies the change at once (the CLI: within 2 s)."""
    status, body = gw.admin("POST", "/admin/v1/numbers/",
                              {"number": number, "account": account})
    assert status == 201, body


def inject(gw, source: str, destination: str, text: str, **options) -> dict:
    status, body = gw.admin("POST", "/admin/v1/inbound/", {
        "from": source, "to": destination, "text": text, **options})
    assert status == 202, body
    return body


def test_an_mo_reaches_the_webhook_once_whole_whatever_the_order_of_its_parts(
        start_gateway, receiver):
    gw = start_gateway(CONFIG)
    account, _ = gw.add_account(None, "secret1", "10", "--webhook-url", receiver.url,
                                "--webhook-secret", SECRET)
    own(gw, NUMBER, account)
    answer = inject(gw, HANDSET, "+" + NUMBER, LONG, order="reverse")
    assert answer["injected"] == 3
    wait_for(lambda: any(d.event["data"]["text"] == LONG for d in receiver.accepted()), 10,
             message="the whole MO by webhook")
    events = [d.event for d in receiver.accepted() if d.event["type"] == "message.inbound"
              and d.event["data"]["from"] == HANDSET and d.event["data"]["parts"] == 3]
    [event] = events
    assert event["account"] == account and event["data"]["complete"] is True
    assert event["data"]["to"] == "+" + NUMBER and event["data"]["encoding"] == "gsm7"
    assert all(d.signature_ok for d in receiver.accepted())


def test_an_mo_reaches_an_smpp_receiver_as_numbered_parts(start_gateway):
    gw = start_gateway(CONFIG)
    account = gw.add_account(None, "secret1", "10", "--throughput", "0")
    own(gw, NUMBER, account[0])
    with Esme(gw, *account, kind="receiver") as esme:
        inject(gw, HANDSET, NUMBER, LONG, split="sar", order="reverse")
        wait_for(lambda: esme.drain(0.2) or len(esme.receipts) >= 3, 10,
                 message="3 deliver_sm")
        parts = esme.receipts
    assert [p.esm_class & 0x40 for p in parts] == [0x40] * 3
    bodies = [bytes(p.short_message) for p in parts]
    # UDH 05 00 03 ref total seq, then the text; delivered in order
    assert [b[5] for b in bodies] == [1, 2, 3] and {b[4] for b in bodies} == {3}
    assert b"".join(b[6:] for b in bodies).decode() == LONG
    assert {p.source_addr.decode() for p in parts} == {HANDSET}


def test_parts_of_an_mo_that_never_completes_are_released_after_the_timeout(
        start_gateway, receiver):
    gw = start_gateway(CONFIG)
    account, _ = gw.add_account(None, "secret1", "10", "--webhook-url", receiver.url,
                                "--webhook-secret", SECRET)
    own(gw, NUMBER, account)
    inject(gw, HANDSET, NUMBER, LONG, drop=[2])
    wait_for(lambda: len([d for d in receiver.accepted()
                          if d.event["data"].get("part")]) == 2, 10,
             message="the two parts that came, released")
    parts = sorted(d.event["data"]["part"]["seq"] for d in receiver.accepted()
                   if d.event["data"].get("part"))
    assert parts == [1, 3]
    assert gw.query_db("SELECT count(*) FROM inbound_parts") == [(0,)]


def test_an_mo_to_a_number_nobody_owns_is_refused(start_gateway):
    gw = start_gateway(CONFIG)
    status, body = gw.admin("POST", "/admin/v1/inbound/", {
        "from": HANDSET, "to": "4999999", "text": "anyone?"})
    assert status == 422
    assert body["error"]["code"] == "ESME_RINVDSTADR" and body["error"]["command_status"] == "0xB"


def test_the_simulators_echo_mode_answers_a_message_with_an_mo(start_gateway):
    gw = start_gateway({**CONFIG, "simulator": {"delay": 0.01, "echo": True}})
    account = gw.add_account(None, "secret1", "10", "--throughput", "0")
    own(gw, NUMBER, account[0])
    with Esme(gw, *account, kind="transceiver") as esme:
        message_id = esme.submit_ok(HANDSET, b"Is this thing on?", source_addr=NUMBER)
        esme.wait_receipts([message_id], timeout=10)
        wait_for(lambda: esme.drain(0.2) or any(
            (p.esm_class & 0x3C) == 0 for p in esme.receipts), 10, message="the echo MO")
        [mo] = [p for p in esme.receipts if (p.esm_class & 0x3C) == 0]
    assert bytes(mo.short_message) == b"Is this thing on?"
    assert (mo.source_addr.decode(), mo.destination_addr.decode()) == (HANDSET, NUMBER)
