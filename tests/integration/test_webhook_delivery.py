"""Webhooks against the real gateway and a real receiver on loopback: receipts of SMPP and
HTTP messages POSTed signed; a receiver that answers 5xx, hangs and is down (connection
refused), across a gateway crash and restart, still gets every event exactly once per
event id; dead letters kept and replayed by the admin."""
from __future__ import annotations

import pytest
from gateway_harness import Esme, HttpClient, wait_for
from webhook_receiver import Receiver

pytestmark = pytest.mark.integration

SECRET = "whsec-0123456789abcdef"
FAST_HOOKS = {
    "simulator": {"delay": 0.01},
    "webhooks": {"timeout": 1.0, "retry_initial": 0.2, "retry_max": 1.0,
                 "poll_interval": 0.2},
}


@pytest.fixture
def receiver():
    r = Receiver(secret=SECRET).start()
    yield r
    r.stop()


def hook_account(gw, receiver: Receiver, *options: str) -> tuple[str, str]:
    return gw.add_account(None, "secret1", "100", "--throughput", "0",
                          "--webhook-url", receiver.url, "--webhook-secret", SECRET, *options)


def send_http(gw, account: tuple[str, str], count: int, **fields) -> list[str]:
    client = HttpClient(gw, basic=account)
    try:
        ids = []
        for i in range(count):
            status, body, _ = client.call("POST", "/api/v1/messages", {
                "to": f"49176{i:07d}", "text": f"hello {i}", "dlr": True, **fields})
            assert status == 202, body
            ids.append(body["messages"][0]["id"])
        return ids
    finally:
        client.close()


def receipts_by_message(receiver: Receiver) -> dict[str, list]:
    by_message: dict[str, list] = {}
    for delivery in receiver.accepted():
        by_message.setdefault(delivery.event["data"]["message_id"], []).append(delivery)
    return by_message


def test_receipts_of_smpp_messages_are_posted_signed_to_the_accounts_webhook(
        start_gateway, receiver):
    gw = start_gateway(FAST_HOOKS)
    account = hook_account(gw, receiver)
    with Esme(gw, *account, kind="transmitter") as esme:
        ids = [esme.submit_ok("4917000001", f"msg {i}".encode()) for i in range(5)]
    wait_for(lambda: len(receiver.accepted()) == 5, 10, message="5 receipts posted")
    by_message = receipts_by_message(receiver)
    assert sorted(by_message) == sorted(ids)
    for message_id, [delivery] in by_message.items():
        assert delivery.signature_ok
        event = delivery.event
        assert event["type"] == "message.receipt" and event["account"] == account[0]
        assert event["event_id"] == delivery.event_id
        assert event["data"]["stat"] == "DELIVRD" and event["data"]["message_id"] == message_id
    wait_for(lambda: gw.query_db("SELECT count(*) FROM webhook_outbox") == [(0,)], 5,
             message="delivered items removed from the outbox")


def test_an_http_messages_callback_url_gets_its_receipt_and_deliver_via_both_adds_smpp(
        start_gateway, receiver):
    gw = start_gateway(FAST_HOOKS)
    account = gw.add_account(None, "secret1", "100", "--throughput", "0",
                             "--webhook-secret", SECRET, "--deliver-via", "both")
    with Esme(gw, *account, kind="receiver") as esme:
        [message_id] = send_http(gw, account, 1, callback_url=receiver.url + "?order=7")
        esme.wait_receipts([message_id], timeout=10)
    wait_for(lambda: len(receiver.accepted()) == 1, 10, message="the callback")
    [delivery] = receiver.accepted()
    assert delivery.signature_ok and delivery.event["data"]["message_id"] == message_id


def test_a_failing_receiver_gets_every_event_once_after_a_crash_and_restart(
        start_gateway, receiver):
    gw = start_gateway(FAST_HOOKS)
    account = hook_account(gw, receiver)
    receiver.set_mode("fail")
    ids = send_http(gw, account, 10)
    wait_for(lambda: len({d.event_id for d in receiver.deliveries}) == 10, 15,
             message="every event tried once")
    receiver.set_mode("hang")  # the gateway times out (1 s) and backs off
    wait_for(lambda: any(d.status is None for d in receiver.deliveries), 10,
             message="an attempt that timed out")
    receiver.stop()  # connection refused from now on
    gw.kill()  # a crash with every webhook still pending
    gw.start()
    wait_for(lambda: "connection refused" in " ".join(
        e for (e,) in gw.query_db("SELECT last_error FROM webhook_outbox")), 15,
        message="a refused attempt after the restart")
    receiver.set_mode("ok")
    receiver.start()  # same port
    wait_for(lambda: len(receipts_by_message(receiver)) == 10, 30,
             message="all 10 receipts after the receiver came back")
    by_message = receipts_by_message(receiver)
    assert sorted(by_message) == sorted(ids)
    accepted = receiver.accepted()
    assert len(accepted) == 10  # each event answered 2xx exactly once
    assert len({d.event_id for d in accepted}) == 10
    assert all(d.signature_ok for d in accepted)
    statuses = {d.status for d in receiver.deliveries}
    assert {503, None, 200} <= statuses
    wait_for(lambda: gw.query_db("SELECT count(*) FROM webhook_outbox") == [(0,)], 5,
             message="the outbox emptied")


def test_dead_letters_are_kept_then_replayed_through_the_admin_api(start_gateway, receiver):
    gw = start_gateway({**FAST_HOOKS, "webhooks": {**FAST_HOOKS["webhooks"],
                                                   "dead_letter_after": 1.0}})
    account = hook_account(gw, receiver)
    receiver.set_mode("fail")
    ids = send_http(gw, account, 2)
    admin = HttpClient(gw, bearer=gw.admin_token)
    try:
        def dead() -> list:
            status, body, _ = admin.call("GET", "/admin/v1/webhooks/?state=dead")
            assert status == 200, body
            return body["webhooks"]

        wait_for(lambda: len(dead()) == 2, 15, message="two dead letters")
        assert all(item["last_error"] == "HTTP 503" for item in dead())
        tried = receiver.attempts()
        cli = gw.run_cli("webhook", "list", "--dead").stdout
        assert cli.count("dead") >= 2
        receiver.set_mode("ok")
        status, body, _ = admin.call("POST", "/admin/v1/webhooks/replay", {"all": True})
        assert (status, body) == (200, {"replayed": 2})
        wait_for(lambda: len(receiver.accepted()) == 2, 10, message="replayed letters")
        assert receiver.attempts() == tried + 2
        assert sorted(receipts_by_message(receiver)) == sorted(ids)
        assert dead() == []
    finally:
        admin.close()
