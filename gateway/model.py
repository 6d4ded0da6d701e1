"""Transport-neutral types the core, the store and the front-ends share.

The core never sees a PDU: SMPP and HTTP front-ends translate into these.
Money is `Decimal`; times are POSIX seconds (float).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from gateway.smpp.frozen_init import fast_init, fast_replace
from gateway.smpp.constants import FINAL_STATES, MessageState

__all__ = [
    "FINAL_STATES", "NO_ADDRESS", "Account", "Address", "BindKind", "Cdr", "Channel", "DeliverVia",
    "DeliveryKind", "InboundMessage", "InboundPart", "Message", "MessageState", "NewOutboxItem",
    "OutboxItem", "SubmitBatch", "SubmitRequest", "copy_address",
]


class BindKind(Enum):
    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"

    @property
    def can_submit(self) -> bool:
        return self is not BindKind.RECEIVER

    @property
    def can_receive(self) -> bool:
        return self is not BindKind.TRANSMITTER


@fast_init  # built for every message: see frozen_init.py
@dataclass(frozen=True, kw_only=True, slots=True)
class Address:
    ton: int = 0
    npi: int = 0
    addr: str = ""


# The empty address: what a blank template holds until its copy gets a real one, and what
# a webhook item keeps (frozen: one is enough).
NO_ADDRESS = Address()
# copy_address(NO_ADDRESS, ton, npi, addr): a new Address without the constructor's three
# keywords (the front-ends build one or two for every message they take in)
copy_address = fast_replace(Address, "ton", "npi", "addr")


class DeliverVia(Enum):
    """How an account's receipts and MO reach it.

    AUTO: as webhooks when a URL is known (the message's callback_url, else the account's
    webhook_url), over SMPP otherwise. SMPP: over SMPP (a message's own callback_url still
    gets its webhook). BOTH: over SMPP and, when a URL is known, as webhooks too."""

    AUTO = "auto"
    SMPP = "smpp"
    BOTH = "both"


@dataclass(frozen=True, kw_only=True, slots=True)
class Account:
    """A customer. `throughput` is submits per second per session; 0 means unlimited.
    `webhook_secret` keys the HMAC-SHA256 signature of the account's webhooks."""

    system_id: str
    password_hash: str
    balance: Decimal = Decimal(0)
    max_binds: int = 2
    throughput: float = 5.0
    window: int = 10
    allow_ips: tuple[str, ...] = ()
    enabled: bool = True
    webhook_url: str = ""
    webhook_secret: str = ""
    deliver_via: DeliverVia = DeliverVia.AUTO


@fast_init
@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitRequest:
    """What a front-end asks the router to send: one SMS (one part or a whole long message)."""

    source: Address
    destination: Address
    body: bytes
    data_coding: int = 0
    esm_class: int = 0
    protocol_id: int = 0
    priority: int = 0
    registered_delivery: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    service_type: str = ""
    # True when `body` came in message_payload (may be longer than one SMS)
    from_payload: bool = False
    # SAR TLVs (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum): a part the client
    # numbered itself; None when absent. Checked by core/content.py, not stored.
    sar: tuple[int | None, int | None, int | None] = (None, None, None)
    replace_if_present: int = 0
    # HTTP submits: where the receipt goes over HTTP, and the customer's own reference
    callback_url: str = ""
    client_ref: str = ""
    # The front-end it came through: "smpp" or "http" (kept with the message for its CDR)
    transport: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitBatch:
    """One SMS for several destinations (an HTTP send to many recipients): `first` is the
    first recipient's request; the others are the same request with their destination."""

    first: SubmitRequest
    others: tuple[Address, ...] = ()

    @property
    def destinations(self) -> list[Address]:
        return [self.first.destination, *self.others]

    def __len__(self) -> int:
        return 1 + len(self.others)


@fast_init
@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    """An accepted message as stored. `body` includes the UDH when esm_class has UDHI."""

    id: str
    account: str
    source: Address
    destination: Address
    body: bytes
    data_coding: int = 0
    esm_class: int = 0
    protocol_id: int = 0
    priority: int = 0
    registered_delivery: int = 0
    parts: int = 1
    price: Decimal = Decimal(0)
    state: MessageState = MessageState.ENROUTE
    error_code: int = 0
    submitted_at: float = 0.0
    done_at: float | None = None
    scheduled_at: float | None = None
    expires_at: float | None = None
    connector: str = ""
    # Where this message's receipt goes over HTTP instead of the account's webhook URL.
    callback_url: str = ""
    # The customer's own reference for the message (HTTP `client_ref`), returned as given.
    client_ref: str = ""
    # The gateway process (ports.ClusterStore owner) that dispatches it until it is final.
    owner: int = 0
    # "smpp" or "http": the front-end the message came through ("" if stored before 0005).
    transport: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class InboundMessage:
    """A mobile-originated message as a connector received it, before it is matched to the
    account that owns its destination. `body` includes the UDH when esm_class has UDHI."""

    source: Address
    destination: Address
    body: bytes
    data_coding: int = 0
    esm_class: int = 0
    protocol_id: int = 0
    # SAR TLVs (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum) when the part
    # came numbered that way; None when absent.
    sar: tuple[int | None, int | None, int | None] = (None, None, None)
    connector: str = ""
    received_at: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class InboundPart:
    """One part of a concatenated MO, kept in the store until its message is complete.
    The group is (source.addr, destination.addr, ref, total); `seq` counts from 1. Parts
    are held by the number they are addressed to: the account is chosen when the message
    is whole (a keyword is in part 1 only). `body` is the part's octets without UDH."""

    id: str  # the MO id the part got when it arrived
    source: Address
    destination: Address
    ref: int
    total: int
    seq: int
    body: bytes
    data_coding: int = 0
    connector: str = ""
    received_at: float = 0.0


class DeliveryKind(Enum):
    RECEIPT = "receipt"
    MO = "mo"


class Channel(Enum):
    """Which leg of the fan-out takes an outbox item."""

    SMPP = "smpp"  # deliver_sm to the account's least-busy receiver bind
    WEBHOOK = "webhook"  # a signed POST to `url`


@fast_init
@dataclass(frozen=True, kw_only=True, slots=True)
class NewOutboxItem:
    """Something to push to an account (a receipt or an MO) on one leg of the fan-out,
    before the store numbers it.

    An SMPP item carries everything its deliver_sm needs, a WEBHOOK item its URL, event
    id and JSON payload, so the fan-out never has to look the message up again. The
    store keeps only what its leg needs: a WEBHOOK item reads back without the SMPP
    fields (addresses, body, TLV values), an SMPP item without url, event_id, payload.
    """

    account: str
    kind: DeliveryKind
    source: Address
    destination: Address
    body: bytes
    esm_class: int = 0
    data_coding: int = 0
    message_id: str = ""  # the receipted message id, for receipts
    message_state: int | None = None
    network_error_code: bytes | None = None
    created_at: float = 0.0
    channel: Channel = Channel.SMPP
    # WEBHOOK items: where they are POSTed, the id receivers de-duplicate by, and the JSON
    # document (core/events.py), fixed when the event is made so every retry sends it again
    url: str = ""
    event_id: str = ""
    payload: str = ""
    # The owner (ports.ClusterStore) pushing it; None: waiting for a node to claim it.
    claimed_by: int | None = None


@fast_init
@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxItem(NewOutboxItem):
    """A persisted outbox entry; `id` orders entries per account and channel (SMPP and
    WEBHOOK items are numbered apart). The rest is a webhook's delivery state: failed
    attempts so far, when the next is due, the last failure, and when it was given up
    (dead-lettered; None while it is retried)."""

    id: int
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str = ""
    dead_at: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Cdr:
    """A call detail record: one message in its final state, as billing reads it.
    `connector` and `upstream_id` are where it left and the id the upstream gave it
    ('' for the simulator or when the upstream never answered)."""

    id: str
    account: str
    transport: str
    source: str
    destination: str
    parts: int
    data_coding: int
    price: Decimal
    connector: str
    upstream_id: str
    submitted_at: float
    done_at: float
    state: MessageState
    error_code: int
