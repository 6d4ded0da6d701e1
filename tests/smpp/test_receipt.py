"""Delivery receipt text: our exact format, and liberal parsing of everybody else's."""
from __future__ import annotations

import calendar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.smpp.constants import MessageState
from gateway.smpp import receipt as receipt_module
from gateway.smpp.receipt import Receipt, format_receipt, parse_receipt

SUBMITTED = calendar.timegm((2024, 1, 2, 13, 45, 59))
DONE = calendar.timegm((2024, 1, 2, 13, 47, 1))


def test_format_is_exactly_the_documented_layout():
    text = format_receipt(
        message_id="a1b2c3d4e5", sub=1, dlvrd=1, submit_date=SUBMITTED, done_date=DONE,
        stat="DELIVRD", err=0, text="Hello World, this is longer than twenty",
    )
    assert text == (
        "id:a1b2c3d4e5 sub:001 dlvrd:001 submit date:2401021345 done date:2401021347"
        " stat:DELIVRD err:000 text:Hello World, this is"
    )


def test_format_pads_counts_and_error_to_three_digits():
    text = format_receipt(
        message_id="7", sub=3, dlvrd=0, submit_date=SUBMITTED, done_date=DONE,
        stat=MessageState.UNDELIVERABLE.receipt_stat, err=27, text="",
    )
    assert text.endswith("sub:003 dlvrd:000 submit date:2401021345 done date:2401021347"
                         " stat:UNDELIV err:027 text:")


def test_format_then_parse_round_trips():
    text = format_receipt(
        message_id="0f3a", sub=2, dlvrd=1, submit_date=SUBMITTED, done_date=DONE,
        stat="EXPIRED", err=4, text="multi text: id:5 ok",
    )
    assert parse_receipt(text) == Receipt(
        message_id="0f3a", sub=2, dlvrd=1, submit_date="2401021345", done_date="2401021347",
        stat="EXPIRED", err="004", text="multi text: id:5 ok",
    )


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(
        "id:1234567890 sub:001 dlvrd:001 submit date:2401021345 done date:2401021347"
        " stat:DELIVRD err:000 text:Hello",
        Receipt(message_id="1234567890", sub=1, dlvrd=1, submit_date="2401021345",
                done_date="2401021347", stat="DELIVRD", err="000", text="Hello"),
        id="kannel",
    ),
    pytest.param(
        "id:4f0c5b8e-2a1d-4c44-9b4f-8f5a8d7c1e2a sub:001 dlvrd:001 submit date:240102134559"
        " done date:240102134701 stat:UNDELIV err:0A3 Text:Hi there",
        Receipt(message_id="4f0c5b8e-2a1d-4c44-9b4f-8f5a8d7c1e2a", sub=1, dlvrd=1,
                submit_date="240102134559", done_date="240102134701", stat="UNDELIV",
                err="0A3", text="Hi there"),
        id="jasmin_uuid_seconds_uppercase_text",
    ),
    pytest.param(
        "id:8a3f sub:001 dlvrd:000 submit date:2401021345 done date:2401021347"
        " stat:REJECTD err:5 Text Hallo Welt",
        Receipt(message_id="8a3f", sub=1, dlvrd=0, submit_date="2401021345",
                done_date="2401021347", stat="REJECTD", err="5", text="Hallo Welt"),
        id="sms77_text_without_colon",
    ),
    pytest.param(
        "id:99 sub:001 dlvrd:001 submit date:2401021345 done date:2401021347"
        " stat:DELIVRD err:0 Текст: Здравей",
        Receipt(message_id="99", sub=1, dlvrd=1, submit_date="2401021345",
                done_date="2401021347", stat="DELIVRD", err="0", text="Здравей"),
        id="bulgarian_text_key",
    ),
    pytest.param(
        "ID:ABCDEF01 SUB:001 DLVRD:001 SUBMIT DATE:2401021345 DONE DATE:2401021347"
        " STAT:delivrd ERR:000 TEXT:Shout",
        Receipt(message_id="ABCDEF01", sub=1, dlvrd=1, submit_date="2401021345",
                done_date="2401021347", stat="DELIVRD", err="000", text="Shout"),
        id="uppercase_keys_lowercase_stat",
    ),
    pytest.param(
        "id:123 submit date:2401021345 done date:2401021347 stat:EXPIRED",
        Receipt(message_id="123", submit_date="2401021345", done_date="2401021347",
                stat="EXPIRED"),
        id="missing_sub_dlvrd_err_text",
    ),
    pytest.param(
        "stat:DELIVRD err:000 id:77 done_date:2401021347 submit_date:2401021345",
        Receipt(message_id="77", submit_date="2401021345", done_date="2401021347",
                stat="DELIVRD", err="000"),
        id="any_order_and_underscored_dates",
    ),
    pytest.param(
        "id:5 text:in the middle stat:DELIVRD err:000",
        Receipt(message_id="5", stat="DELIVRD", err="000", text="in the middle"),
        id="text_before_other_fields",
    ),
    pytest.param(
        "id:42 stat:DELIVERED",
        Receipt(message_id="42", stat="DELIVERED"),
        id="spelled_out_stat",
    ),
    pytest.param(
        "stat:ACCEPTD",
        Receipt(stat="ACCEPTD"),
        id="stat_only",
    ),
    pytest.param(
        "id: sub:xyz dlvrd:1 stat:UNKNOWN",
        Receipt(message_id="", dlvrd=1, stat="UNKNOWN"),
        id="empty_id_and_non_numeric_sub",
    ),
])
def test_parse_real_world_variants(text, expected):
    assert parse_receipt(text) == expected


@pytest.mark.parametrize("text", ["", "Hello, how are you?", "paid:5 status ok", "sub:001"])
def test_text_without_id_or_stat_is_not_a_receipt(text):
    assert parse_receipt(text) is None


@pytest.mark.parametrize(("stat", "state"), [
    ("DELIVRD", MessageState.DELIVERED),
    ("UNDELIV", MessageState.UNDELIVERABLE),
    ("EXPIRED", MessageState.EXPIRED),
    ("DELETED", MessageState.DELETED),
    ("ACCEPTD", MessageState.ACCEPTED),
    ("UNKNOWN", MessageState.UNKNOWN),
    ("REJECTD", MessageState.REJECTED),
    ("ENROUTE", MessageState.ENROUTE),
    ("DELIVERED", MessageState.DELIVERED),
    ("FAILED", MessageState.UNDELIVERABLE),
    ("BOGUS", None),
])
def test_message_state_of_the_stat_word(stat, state):
    assert Receipt(stat=stat).message_state == state
    assert Receipt().message_state is None


_TOKEN = st.text(alphabet=st.sampled_from("aZ09:_-."), max_size=6)


@settings(max_examples=300, deadline=None)
@given(fields=st.lists(_TOKEN, min_size=7, max_size=7),
       text=st.text(alphabet=st.sampled_from("ab :\t\nidstaterrxt"), max_size=30),
       spacer=st.sampled_from([" ", "  ", "\t"]))
def test_the_canonical_fast_path_reads_what_the_general_parse_reads(fields, text, spacer):
    message_id, sub, dlvrd, submit, done, stat, err = fields
    written = (f"id:{message_id or 'x'} sub:{sub} dlvrd:{dlvrd} submit date:{submit}"
               f" done date:{done} stat:{stat} err:{err}{spacer}text:{text}")
    assert parse_receipt(written) == receipt_module._parse_any(written)
