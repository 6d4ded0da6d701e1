"""Which legs of the fan-out an event takes: SMPP (deliver_sm to a receiver bind) and/or a
webhook, per the account's `deliver_via` and webhook URL (D3, D4, H4, R4).

The legs are decided when the event is made and written as outbox items in the same
transaction as the event itself (rule 3), one item per leg, so each leg is retried on
its own. Account settings are held in memory here (like the price tables): the receipt
hot path decides without a store read, and `service.py` reloads them when
settings_version moves.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from gateway.core.events import receipt_payload
from gateway.core.receipts import receipt_event, receipt_for, wants_receipt
from gateway.model import Account, Channel, DeliverVia, Message, MessageState, NewOutboxItem
from gateway.smpp.frozen_init import fast_replace

__all__ = ["Claims", "Subscriptions", "Target", "new_event_id", "with_webhook_secret"]

# An event's WEBHOOK leg: the SMPP-shaped item with these replaced (one per webhook receipt;
# dataclasses.replace re-reads every field's metadata and calls __init__ by keyword).
_as_webhook_leg = fast_replace(NewOutboxItem, "channel", "url", "event_id", "payload", "body",
                               "network_error_code", "claimed_by")


def new_event_id() -> str:
    """A webhook event id: unique across nodes and restarts without coordination: 128
    random bits (a uuid4 has 122, and building its UUID object cost more than the rest of
    a receipt's webhook document)."""
    return "evt_" + secrets.token_hex(16)


def with_webhook_secret(account: Account) -> Account:
    """`account`, with a new random signing secret if it has a webhook URL but no secret
    (an admin setting a URL need not invent one; it is shown in the account's settings)."""
    if account.webhook_url and not account.webhook_secret:
        return replace(account, webhook_secret=secrets.token_urlsafe(32))
    return account


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """Where an event for an account goes: over SMPP, and/or POSTed to `url` ('' = not)."""

    smpp: bool
    url: str = ""


_SMPP_ONLY = Target(smpp=True)
# Enum members read per message, bound once (smpp/constants.py says why)
_VIA_SMPP, _VIA_BOTH, _WEBHOOK = DeliverVia.SMPP, DeliverVia.BOTH, Channel.WEBHOOK


@dataclass(frozen=True, kw_only=True, slots=True)
class Claims:
    """The owner that will push an event's new items on each leg (None: whichever node
    claims them later); core/delivery.py decides, the items are built with it."""

    smpp: int | None = None
    webhook: int | None = None


UNCLAIMED = Claims()


@dataclass(frozen=True, kw_only=True, slots=True)
class _Settings:
    url: str
    secret: str
    via: DeliverVia


_DEFAULT = _Settings(url="", secret="", via=DeliverVia.AUTO)


class Subscriptions:
    """Each account's delivery settings, from in-memory copies of the accounts."""

    def __init__(self, accounts: Iterable[Account] = (),
                 event_ids: Callable[[], str] = new_event_id) -> None:
        self._settings: dict[str, _Settings] = {}
        self._event_ids = event_ids
        self.load(accounts)

    def load(self, accounts: Iterable[Account]) -> None:
        """Replace every account's settings with those of `accounts`."""
        self._settings = {a.system_id: _settings(a) for a in accounts}

    def update(self, account: Account) -> None:
        """One account was added or changed (the admin API applies its change at once)."""
        self._settings[account.system_id] = _settings(account)

    def know(self, account: Account) -> None:
        """Learn an account this process has not loaded yet (created by the CLI or another
        node since the last reload) from a submit of it, so its first receipts already
        take its webhook; known accounts change through `load` and `update` only."""
        if account.system_id not in self._settings:
            self._settings[account.system_id] = _settings(account)

    def secret(self, account: str) -> str:
        """The key the account's webhooks are signed with ('' for an unknown account)."""
        return self._settings.get(account, _DEFAULT).secret

    def target(self, account: str, callback_url: str = "") -> Target:
        """The legs of an event for `account`; `callback_url` is a message's own URL."""
        settings = self._settings.get(account, _DEFAULT)
        via = settings.via
        if via is _VIA_SMPP:
            return Target(smpp=True, url=callback_url) if callback_url else _SMPP_ONLY
        url = callback_url or settings.url
        if not url:
            return _SMPP_ONLY  # the usual answer: one value, not one per receipt
        return Target(smpp=via is _VIA_BOTH, url=url)

    def receipt_items(self, message: Message, state: MessageState, error_code: int,
                      done_at: float, claims: Claims = UNCLAIMED) -> list[NewOutboxItem]:
        """The outbox items of `message`'s receipt, one per leg, each claimed as `claims`
        says (built so: a copy per item to claim it costs more than the receipt's text);
        [] when none was asked."""
        if not wants_receipt(message.registered_delivery, state):
            return []
        target = self.target(message.account, message.callback_url)
        if target.smpp:
            receipt = receipt_for(message, state, error_code, done_at, claims.smpp)
            items = [receipt]
        else:
            receipt, items = receipt_event(message, state, done_at), []
        if target.url:
            event_id = self._event_ids()
            items.append(self.webhook_item(
                receipt, target.url, event_id,
                receipt_payload(message, state, error_code, done_at, event_id),
                claims.webhook))
        return items

    def new_event_id(self) -> str:
        return self._event_ids()

    @staticmethod
    def webhook_item(event: NewOutboxItem, url: str, event_id: str,
                     payload: str, claimed_by: int | None = None) -> NewOutboxItem:
        """The WEBHOOK leg of `event` (an SMPP-shaped item): its JSON `payload` to `url`.
        The SMPP body is not kept: the payload says everything."""
        if type(event) is not NewOutboxItem:  # a subclass's own fields would be dropped
            raise TypeError(f"webhook_item needs a NewOutboxItem, not {type(event).__name__}")
        return _as_webhook_leg(event, _WEBHOOK, url, event_id, payload, b"", None,
                               claimed_by)


def _settings(account: Account) -> _Settings:
    return _Settings(url=account.webhook_url, secret=account.webhook_secret,
                     via=account.deliver_via)
