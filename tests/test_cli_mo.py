"""`smsgw account ... --webhook-*`, `smsgw number ...` and `smsgw webhook ...` as a user runs
them (a subprocess on a data dir, no gateway needed)."""
from __future__ import annotations

import json

from test_cli import fails, ok, show

from gateway.model import Address, Channel, DeliveryKind, NewOutboxItem
from gateway.storage.sqlite import connection, outbox, webhooks

HOOK = "https://hooks.example.test/smsgw"


def test_webhook_settings_of_an_account(tmp_path):
    ok(tmp_path, "account", "add", "shop", "--password", "pw", "--webhook-url", HOOK)
    account = show(tmp_path, "shop")
    assert account["webhook_url"] == HOOK and len(account["webhook_secret"]) >= 32
    ok(tmp_path, "account", "set", "shop", "--webhook-secret", "s" * 20,
       "--deliver-via", "both")
    account = show(tmp_path, "shop")
    assert (account["webhook_secret"], account["deliver_via"]) == ("s" * 20, "both")
    ok(tmp_path, "account", "set", "shop", "--webhook-url", "")
    assert show(tmp_path, "shop")["webhook_url"] == ""
    assert "http(s) URL" in fails(tmp_path, "account", "set", "shop", "--webhook-url",
                                  "ftp://x")
    assert "16-128" in fails(tmp_path, "account", "set", "shop", "--webhook-secret", "short")
    assert "invalid choice" in fails(tmp_path, "account", "set", "shop", "--deliver-via",
                                     "pigeon")


def test_numbers_add_list_remove(tmp_path):
    ok(tmp_path, "account", "add", "shop", "--password", "pw")
    assert "now belongs to shop" in ok(tmp_path, "number", "add", "+4915550001",
                                       "--account", "shop")
    ok(tmp_path, "number", "add", "7777", "--account", "shop", "--keyword", "pizza")
    listed = json.loads(ok(tmp_path, "number", "list", "--json"))
    assert listed == [{"number": "4915550001", "keyword": "", "account": "shop"},
                      {"number": "7777", "keyword": "PIZZA", "account": "shop"}]
    assert "owned already" in fails(tmp_path, "number", "add", "004915550001",
                                    "--account", "shop")
    assert "no account" in fails(tmp_path, "number", "add", "1234", "--account", "ghost")
    assert "letters or digits" in fails(tmp_path, "number", "add", "12 34", "--account", "shop")
    ok(tmp_path, "number", "remove", "7777", "--keyword", "PIZZA")
    assert "nobody owns" in fails(tmp_path, "number", "remove", "7777", "--keyword", "PIZZA")
    assert "7777" not in ok(tmp_path, "number", "list")


def test_webhook_list_stats_and_replay_of_dead_letters(tmp_path):
    ok(tmp_path, "account", "add", "shop", "--password", "pw", "--webhook-url", HOOK)
    conn = connection.connect(tmp_path / "smsgw.db", 5.0)  # what a gateway wrote
    cur = conn.cursor()
    items = outbox.queue_outbox(cur, [NewOutboxItem(
        account="shop", kind=DeliveryKind.MO, source=Address(), destination=Address(),
        body=b"", channel=Channel.WEBHOOK, url=HOOK, event_id=f"evt_{n}", payload="{}",
        created_at=100.0) for n in range(3)])
    webhooks.webhook_failed(cur, items[0].id, 5, 200.0, "HTTP 503", 150.0)
    conn.close()
    assert ok(tmp_path, "webhook", "stats").split() == ["pending:", "2", "dead:", "1"]
    dead = json.loads(ok(tmp_path, "webhook", "list", "--dead", "--json"))
    assert [(d["id"], d["attempts"], d["last_error"], d["state"]) for d in dead] == [
        (items[0].id, 5, "HTTP 503", "dead")]
    assert len(json.loads(ok(tmp_path, "webhook", "list", "--pending", "--json"))) == 2
    assert "HTTP 503" in ok(tmp_path, "webhook", "list")
    assert "say which" in fails(tmp_path, "webhook", "replay")
    assert "1 dead letter queued again" in ok(tmp_path, "webhook", "replay", "--all")
    assert ok(tmp_path, "webhook", "stats").split() == ["pending:", "3", "dead:", "0"]
