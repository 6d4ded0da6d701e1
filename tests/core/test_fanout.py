"""Which legs a receipt takes (core/fanout.py): SMPP, webhook, or both, per the account's
deliver_via, its webhook URL and the message's own callback_url."""
from __future__ import annotations

import dataclasses
import json

import pytest

from gateway.core.fanout import Claims, Subscriptions, Target, with_webhook_secret
from gateway.model import (
    Account,
    Address,
    Channel,
    DeliverVia,
    Message,
    MessageState,
    OutboxItem,
)

HOOK = "https://hooks.example.test/smsgw"
OWN = "https://shop.example.test/dlr/7"


def account(name: str = "acme", url: str = "", via: DeliverVia = DeliverVia.AUTO) -> Account:
    return Account(system_id=name, password_hash="x", webhook_url=url,
                   webhook_secret="s" * 20 if url else "", deliver_via=via)


def message(registered: int = 1, callback_url: str = "", account_id: str = "acme") -> Message:
    return Message(id="42", account=account_id, source=Address(ton=5, addr="ACME"),
                   destination=Address(ton=1, npi=1, addr="4917612345678"), body=b"Hello",
                   registered_delivery=registered, parts=2, submitted_at=1_800_000_000.0,
                   callback_url=callback_url, client_ref="order-9")


@pytest.mark.parametrize(("via", "url", "callback", "expected"), [
    (DeliverVia.AUTO, "", "", Target(smpp=True, url="")),
    (DeliverVia.AUTO, HOOK, "", Target(smpp=False, url=HOOK)),
    (DeliverVia.AUTO, HOOK, OWN, Target(smpp=False, url=OWN)),
    (DeliverVia.AUTO, "", OWN, Target(smpp=False, url=OWN)),
    (DeliverVia.SMPP, HOOK, "", Target(smpp=True, url="")),
    (DeliverVia.SMPP, HOOK, OWN, Target(smpp=True, url=OWN)),
    (DeliverVia.BOTH, HOOK, "", Target(smpp=True, url=HOOK)),
    (DeliverVia.BOTH, "", "", Target(smpp=True, url="")),
])
def test_target_follows_deliver_via_url_and_callback(via, url, callback, expected):
    subscriptions = Subscriptions([account(url=url, via=via)])
    assert subscriptions.target("acme", callback) == expected


def test_an_unknown_account_gets_smpp_unless_the_message_has_its_own_url():
    subscriptions = Subscriptions()
    assert subscriptions.target("ghost") == Target(smpp=True)
    assert subscriptions.target("ghost", OWN) == Target(smpp=False, url=OWN)
    assert subscriptions.secret("ghost") == ""


def test_no_receipt_asked_means_no_items():
    subscriptions = Subscriptions([account(url=HOOK, via=DeliverVia.BOTH)])
    assert subscriptions.receipt_items(message(registered=0), MessageState.DELIVERED, 0,
                                       1_800_000_010.0) == []


def test_both_makes_an_smpp_receipt_and_a_webhook_with_the_json_document():
    ids = iter(["evt_1"])
    subscriptions = Subscriptions([account(url=HOOK, via=DeliverVia.BOTH)],
                                  event_ids=lambda: next(ids))
    smpp, hook = subscriptions.receipt_items(message(), MessageState.UNDELIVERABLE, 11,
                                             1_800_000_010.0)
    assert smpp.channel is Channel.SMPP and b"stat:UNDELIV err:011" in smpp.body
    assert (hook.channel, hook.url, hook.event_id, hook.body) == (
        Channel.WEBHOOK, HOOK, "evt_1", b"")
    document = json.loads(hook.payload)
    assert document["event_id"] == "evt_1" and document["type"] == "message.receipt"
    assert document["account"] == "acme"
    assert document["data"] == {
        "message_id": "42", "client_ref": "order-9", "from": "ACME", "to": "4917612345678",
        "state": "UNDELIVERABLE", "stat": "UNDELIV", "message_state": 5, "error_code": 11,
        "parts": 2, "delivered_parts": 0, "submitted_at": "2027-01-15T08:00:00.000Z",
        "done_at": "2027-01-15T08:00:10.000Z"}


@pytest.mark.parametrize(("claims", "expected"), [
    (Claims(), (None, None)),
    (Claims(smpp=3), (3, None)),
    (Claims(webhook=4), (None, 4)),
    (Claims(smpp=3, webhook=3), (3, 3)),
])
def test_each_leg_is_built_claimed_as_claims_says(claims, expected):
    subscriptions = Subscriptions([account(url=HOOK, via=DeliverVia.BOTH)])
    smpp, hook = subscriptions.receipt_items(message(), MessageState.DELIVERED, 0, 1.0, claims)
    assert (smpp.claimed_by, hook.claimed_by) == expected
    assert (smpp.channel, hook.channel) == (Channel.SMPP, Channel.WEBHOOK)


def test_a_callback_url_takes_the_receipt_of_an_smpp_account_as_a_webhook():
    subscriptions = Subscriptions([account()])
    [hook] = subscriptions.receipt_items(message(callback_url=OWN), MessageState.DELIVERED,
                                         0, 1_800_000_010.0)
    assert hook.channel is Channel.WEBHOOK and hook.url == OWN


def test_every_webhook_event_gets_a_new_id():
    subscriptions = Subscriptions([account(url=HOOK)])
    first = subscriptions.receipt_items(message(), MessageState.DELIVERED, 0, 1.0)[0]
    second = subscriptions.receipt_items(message(), MessageState.DELIVERED, 0, 1.0)[0]
    assert first.event_id.startswith("evt_") and first.event_id != second.event_id


def test_update_replaces_one_accounts_settings():
    subscriptions = Subscriptions([account()])
    subscriptions.update(account(url=HOOK))
    assert subscriptions.target("acme") == Target(smpp=False, url=HOOK)
    assert subscriptions.secret("acme") == "s" * 20


def test_a_webhook_url_without_a_secret_gets_a_generated_one():
    plain = Account(system_id="a", password_hash="x", webhook_url=HOOK)
    secured = with_webhook_secret(plain)
    assert len(secured.webhook_secret) >= 32
    assert with_webhook_secret(secured) == secured
    assert with_webhook_secret(account()).webhook_secret == ""


def test_an_account_first_seen_in_a_submit_is_learned_but_known_ones_are_not_changed():
    subscriptions = Subscriptions([account("old")])
    subscriptions.know(account("new", url=HOOK))
    assert subscriptions.target("new") == Target(smpp=False, url=HOOK)
    subscriptions.know(account("old", url=HOOK))  # a session's copy may be stale
    assert subscriptions.target("old") == Target(smpp=True)


def test_a_webhook_leg_is_its_event_with_the_webhook_fields_and_without_the_smpp_body():
    subscriptions = Subscriptions([account(url=HOOK)])
    [receipt] = Subscriptions([account()]).receipt_items(
        message(), MessageState.UNDELIVERABLE, 0x40B, 1_800_000_060.0)
    leg = subscriptions.webhook_item(receipt, HOOK, "evt_1", '{"x": 1}', claimed_by=3)
    assert leg == dataclasses.replace(
        receipt, channel=Channel.WEBHOOK, url=HOOK, event_id="evt_1", payload='{"x": 1}',
        body=b"", network_error_code=None, claimed_by=3)
    assert receipt.channel is Channel.SMPP and receipt.body.startswith(b"id:42 ")


def test_a_webhook_leg_is_made_only_from_a_new_item():
    [receipt] = Subscriptions([account()]).receipt_items(
        message(), MessageState.DELIVERED, 0, 1_800_000_060.0)
    stored = OutboxItem(**{f.name: getattr(receipt, f.name)
                           for f in dataclasses.fields(receipt)}, id=7)
    with pytest.raises(TypeError, match="OutboxItem"):
        Subscriptions.webhook_item(stored, HOOK, "evt_1", "{}")


@pytest.mark.parametrize("state", [MessageState.DELIVERED, MessageState.UNDELIVERABLE])
def test_a_webhook_only_receipt_is_the_webhook_leg_a_both_account_gets(state):
    # built without the SMPP text, it must still be the same item, field by field
    claims = Claims(smpp=3, webhook=4)
    only = Subscriptions([account(url=HOOK)], event_ids=lambda: "evt_1")
    both = Subscriptions([account(url=HOOK, via=DeliverVia.BOTH)], event_ids=lambda: "evt_1")
    [hook] = only.receipt_items(message(), state, 11, 1_800_000_010.0, claims)
    [_, expected] = both.receipt_items(message(), state, 11, 1_800_000_010.0, claims)
    assert hook == expected
