"""cancel_sm, replace_sm, submit_multi, data_sm, scheduling, expiry and message content, on
the SMSC side with the real core and store (StringTransport for the socket, Clock for time)."""
from __future__ import annotations

import struct
from decimal import Decimal

import pytest
import pytest_twisted
from test_smpp_server import Harness, submit
from twisted.internet.defer import ensureDeferred

from gateway.model import MessageState
from gateway.smpp import pdu as P
from gateway.smpp.constants import CommandId
from gateway.smpp.constants import CommandStatus as S
from gateway.smpp.timefmt import format_smpp_time
from gateway.text import build_udh, concat_ie, wap_push_segments

IN_10_MIN = "000000001000000R"
IN_20_MIN = "000000002000000R"
SOURCE = "4915100000001"
DEST = "4917600000002"
QUIET = {"enquire_link_interval": 0}


@pytest.fixture
def harness(tmp_path):
    # no enquire_link: the clock jumps minutes ahead, and the tests would have to answer them
    h = Harness(tmp_path, smpp=QUIET)
    yield h
    pytest_twisted.blockon(ensureDeferred(h.close()))


async def submitted(client, seq: int, **fields) -> str:
    client.send(submit(seq, **fields))
    response = await client.next_pdu()
    assert response.command_status == S.ESME_ROK, hex(response.command_status)
    return response.message_id


async def answer(client, request):
    client.send(request)
    return await client.next_pdu()


async def take(client, count: int) -> list:
    return [await client.next_pdu() for _ in range(count)]


async def pass_time(harness, seconds: float) -> None:
    """Advance the clock, let the store work it started finish, then let the simulator answer."""
    harness.clock.advance(seconds)
    await harness.settle()
    harness.clock.advance(0.05)
    await harness.settle()


async def balance(harness, system_id: str = "acme") -> Decimal:
    return (await harness.store.get_account(system_id)).balance


def receipt_stat(pdu) -> str:
    text = pdu.short_message.decode()
    return text.split(" stat:")[1].split()[0]


# --- scheduling and expiry -------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_a_scheduled_message_waits_for_its_time_and_reads_as_enroute_meanwhile(harness):
    await harness.account()
    client = await harness.bound()
    message_id = await submitted(client, 2, schedule_delivery_time=IN_10_MIN)
    assert (await harness.store.get_message(message_id)).state is MessageState.SCHEDULED
    query = await answer(client, P.QuerySm(sequence_number=3, message_id=message_id))
    assert (query.message_state, query.final_date) == (1, "")  # SCHEDULED reads as ENROUTE
    await pass_time(harness, 599)
    assert client.pdus() == []
    await pass_time(harness, 1)
    receipt = await client.next_pdu()
    assert receipt.tlvs.receipted_message_id == message_id and receipt_stat(receipt) == "DELIVRD"


@pytest_twisted.ensureDeferred
async def test_an_absolute_schedule_time_is_honoured(harness):
    await harness.account()
    client = await harness.bound()
    at = format_smpp_time(harness.clock.seconds() + 3600)
    message_id = await submitted(client, 2, schedule_delivery_time=at)
    await pass_time(harness, 3599)
    assert client.pdus() == []
    await pass_time(harness, 1)
    assert (await client.next_pdu()).tlvs.receipted_message_id == message_id


@pytest_twisted.ensureDeferred
async def test_a_scheduled_message_survives_a_restart_and_is_sent_at_its_time(tmp_path):
    first = Harness(tmp_path, smpp=QUIET)
    await first.account()
    client = await first.bound()
    message_id = await submitted(client, 2, schedule_delivery_time=IN_10_MIN)
    client.lose()
    await first.close()

    again = Harness(tmp_path, smpp=QUIET)
    try:
        # nothing to re-dispatch: the scheduler paged the scheduled message in by itself
        assert await again.router.recover() == 0
        assert message_id in again.router._scheduler
        assert (await again.store.get_message(message_id)).state is MessageState.SCHEDULED
        await pass_time(again, 599)
        assert (await again.store.get_message(message_id)).state is MessageState.SCHEDULED
        await pass_time(again, 1)
        assert (await again.store.get_message(message_id)).state is MessageState.DELIVERED
        receiver = await again.bound(P.BindReceiver)
        receipt = await receiver.next_pdu()
        assert receipt.tlvs.receipted_message_id == message_id
    finally:
        await again.close()


@pytest_twisted.ensureDeferred
async def test_a_message_waiting_at_the_connector_past_its_validity_expires_with_a_receipt(
    tmp_path,
):
    harness = Harness(tmp_path, smpp=QUIET,
                      simulator={"outcomes": [{"state": "DELIVRD", "delay": 120}]})
    try:
        await harness.account()
        client = await harness.bound()
        late = await submitted(client, 2, validity_period="000000000100000R")  # 1 minute
        in_time = await submitted(client, 3, validity_period="000000000500000R")
        harness.clock.advance(120)
        await harness.settle()
        receipts = {r.tlvs.receipted_message_id: r for r in await take(client, 2)}
        assert receipt_stat(receipts[late]) == "EXPIRED"
        assert receipts[late].tlvs.message_state == 3
        assert receipt_stat(receipts[in_time]) == "DELIVRD"
        query = await answer(client, P.QuerySm(sequence_number=4, message_id=late))
        assert query.message_state == 3 and query.final_date
    finally:
        await harness.close()


@pytest_twisted.ensureDeferred
async def test_validity_ending_before_the_schedule_is_refused(harness):
    await harness.account()
    client = await harness.bound()
    response = await answer(client, submit(2, schedule_delivery_time=IN_20_MIN,
                                           validity_period=IN_10_MIN))
    assert response.command_status == S.ESME_RINVEXPIRY


# --- cancel_sm -------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_cancel_sm_deletes_a_scheduled_message_refunds_it_and_sends_a_deleted_receipt(
    harness,
):
    await harness.account()
    client = await harness.bound()
    message_id = await submitted(client, 2, schedule_delivery_time=IN_10_MIN)
    assert await balance(harness) == Decimal("9.95")
    client.send(P.CancelSm(sequence_number=3, message_id=message_id, source_addr=SOURCE))
    pdus = await take(client, 2)
    response = next(p for p in pdus if isinstance(p, P.CancelSmResp))
    receipt = next(p for p in pdus if isinstance(p, P.DeliverSm))
    assert response.command_status == S.ESME_ROK
    assert receipt_stat(receipt) == "DELETED" and receipt.tlvs.message_state == 4
    assert receipt.tlvs.receipted_message_id == message_id
    assert await balance(harness) == Decimal(10)
    query = await answer(client, P.QuerySm(sequence_number=4, message_id=message_id))
    assert query.message_state == 4 and len(query.final_date) == 16
    client.send(P.DeliverSmResp(sequence_number=receipt.sequence_number))
    await pass_time(harness, 600)
    assert client.pdus() == []  # never sent, no second receipt
    assert (await harness.store.get_message(message_id)).state is MessageState.DELETED


@pytest_twisted.ensureDeferred
async def test_cancel_sm_fails_for_sent_final_foreign_unknown_and_mismatched_messages(harness):
    await harness.account()
    await harness.account("other")
    client = await harness.bound()
    sent = await submitted(client, 2, registered_delivery=0)
    scheduled = await submitted(client, 3, schedule_delivery_time=IN_10_MIN)
    stranger = await harness.bound(system_id="other")

    async def cancel_status(who, seq, **fields) -> int:
        response = await answer(who, P.CancelSm(sequence_number=seq, **fields))
        assert isinstance(response, P.CancelSmResp)
        return response.command_status

    assert await cancel_status(client, 4, message_id=sent) == S.ESME_RCANCELFAIL  # on its way
    await pass_time(harness, 0)
    assert await cancel_status(client, 5, message_id=sent) == S.ESME_RCANCELFAIL  # delivered
    assert await cancel_status(stranger, 6, message_id=scheduled) == S.ESME_RCANCELFAIL
    assert await cancel_status(client, 7, message_id="123456") == S.ESME_RCANCELFAIL
    assert await cancel_status(client, 8, message_id="not-an-id") == S.ESME_RINVMSGID
    assert await cancel_status(client, 9, message_id=scheduled,
                               source_addr="4915199999999") == S.ESME_RCANCELFAIL
    assert await cancel_status(client, 10, message_id="") == S.ESME_RCANCELFAIL  # no dest
    assert (await harness.store.get_message(scheduled)).state is MessageState.SCHEDULED
    assert await balance(harness) == Decimal("9.90")


@pytest_twisted.ensureDeferred
async def test_cancel_sm_without_message_id_cancels_every_scheduled_message_to_that_destination(
    harness,
):
    await harness.account()
    client = await harness.bound(P.BindTransmitter)
    to_dest = [await submitted(client, n, schedule_delivery_time=IN_10_MIN) for n in (2, 3, 4)]
    elsewhere = await submitted(client, 5, destination_addr="4917600000099",
                                schedule_delivery_time=IN_10_MIN)
    now = await submitted(client, 6)
    assert await balance(harness) == Decimal("9.75")
    response = await answer(client, P.CancelSm(
        sequence_number=7, source_addr=SOURCE, destination_addr=DEST))
    assert response.command_status == S.ESME_ROK
    for message_id in to_dest:
        assert (await harness.store.get_message(message_id)).state is MessageState.DELETED
    assert (await harness.store.get_message(elsewhere)).state is MessageState.SCHEDULED
    assert (await harness.store.get_message(now)).state is MessageState.ENROUTE
    assert await balance(harness) == Decimal("9.90")
    again = await answer(client, P.CancelSm(
        sequence_number=8, source_addr=SOURCE, destination_addr=DEST))
    assert again.command_status == S.ESME_RCANCELFAIL
    receiver = await harness.bound(P.BindReceiver)
    deleted = await take(receiver, 3)
    assert {r.tlvs.receipted_message_id for r in deleted} == set(to_dest)


# --- replace_sm ------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_replace_sm_swaps_text_time_and_receipt_request_and_charges_the_difference(
    harness,
):
    await harness.account()
    client = await harness.bound()
    message_id = await submitted(client, 2, registered_delivery=0,
                                 schedule_delivery_time=IN_10_MIN)
    response = await answer(client, P.ReplaceSm(
        sequence_number=3, message_id=message_id, source_addr=SOURCE,
        short_message=b"y" * 200, schedule_delivery_time=IN_20_MIN, registered_delivery=1,
        sm_default_msg_id=7))
    assert isinstance(response, P.ReplaceSmResp) and response.command_status == S.ESME_ROK
    stored = await harness.store.get_message(message_id)
    assert (stored.body, stored.parts, stored.registered_delivery) == (b"y" * 200, 2, 1)
    assert stored.scheduled_at == harness.clock.seconds() + 1200
    assert await balance(harness) == Decimal("9.90")
    await pass_time(harness, 600)  # the old time: nothing goes out
    assert client.pdus() == []
    assert (await harness.store.get_message(message_id)).state is MessageState.SCHEDULED
    await pass_time(harness, 600)
    receipt = await client.next_pdu()
    assert receipt.short_message.decode().startswith(f"id:{message_id} sub:002 dlvrd:002")
    assert receipt.short_message.decode().endswith("text:" + "y" * 20)


@pytest_twisted.ensureDeferred
async def test_replace_sm_with_a_shorter_text_refunds_and_keeps_the_time_when_none_is_given(
    harness,
):
    await harness.account()
    client = await harness.bound()
    message_id = await submitted(client, 2, short_message=b"z" * 200,
                                 schedule_delivery_time=IN_10_MIN)
    assert await balance(harness) == Decimal("9.90")
    before = await harness.store.get_message(message_id)
    response = await answer(client, P.ReplaceSm(sequence_number=3, message_id=message_id,
                                                short_message=b"short", registered_delivery=1))
    assert response.command_status == S.ESME_ROK
    after = await harness.store.get_message(message_id)
    assert (after.parts, after.scheduled_at) == (1, before.scheduled_at)
    assert await balance(harness) == Decimal("9.95")


@pytest_twisted.ensureDeferred
async def test_replace_sm_beyond_the_balance_changes_nothing(harness):
    await harness.account(balance="0.05")
    client = await harness.bound()
    message_id = await submitted(client, 2, schedule_delivery_time=IN_10_MIN)
    before = await harness.store.get_message(message_id)
    response = await answer(client, P.ReplaceSm(sequence_number=3, message_id=message_id,
                                                short_message=b"x" * 200))
    assert response.command_status == S.ESME_RINVBALANCE
    assert await harness.store.get_message(message_id) == before
    assert await balance(harness) == 0


@pytest_twisted.ensureDeferred
async def test_replace_sm_refusals_name_what_is_wrong(harness):
    await harness.account()
    await harness.account("other")
    client = await harness.bound()
    sent = await submitted(client, 2)
    scheduled = await submitted(client, 3, schedule_delivery_time=IN_10_MIN)
    stranger = await harness.bound(system_id="other")
    cases = [
        (client, dict(message_id=sent), S.ESME_RREPLACEFAIL),
        (stranger, dict(message_id=scheduled), S.ESME_RREPLACEFAIL),
        (client, dict(message_id="999999"), S.ESME_RREPLACEFAIL),
        (client, dict(message_id="x1"), S.ESME_RINVMSGID),
        (client, dict(message_id=scheduled, source_addr="4915199999999"), S.ESME_RREPLACEFAIL),
        (client, dict(message_id=scheduled, schedule_delivery_time="garbage"), S.ESME_RINVSCHED),
        (client, dict(message_id=scheduled, validity_period="000000000500000R"),
         S.ESME_RINVEXPIRY),  # ends before the scheduled time
        (client, dict(message_id=scheduled, registered_delivery=0x03), S.ESME_RINVREGDLVFLG),
    ]
    for seq, (who, fields, status) in enumerate(cases, start=10):
        response = await answer(who, P.ReplaceSm(sequence_number=seq, short_message=b"new",
                                                 **fields))
        assert response.command_status == status, (fields, hex(response.command_status))
    assert (await harness.store.get_message(scheduled)).body == b"hello world"


# --- submit_multi ----------------------------------------------------------------------------

def sme(addr: str, ton: int = 1, npi: int = 1) -> P.DestAddress:
    return P.DestAddress(dest_flag=1, dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr)


def multi(seq: int, *dests: P.DestAddress, **fields) -> P.SubmitMulti:
    defaults = dict(source_addr_ton=1, source_addr_npi=1, source_addr=SOURCE,
                    short_message=b"hello all", registered_delivery=1)
    defaults.update(fields)
    return P.SubmitMulti(sequence_number=seq, dest_addresses=dests, **defaults)


@pytest_twisted.ensureDeferred
async def test_submit_multi_makes_one_message_per_destination_and_answers_the_first_id(harness):
    await harness.account()
    client = await harness.bound()
    response = await answer(client, multi(
        2, sme("4917600000002"), sme("12ab"), P.DestAddress(dest_flag=2, dl_name="friends"),
        sme("4917600000003")))
    assert isinstance(response, P.SubmitMultiResp)
    assert response.command_status == S.ESME_ROK and response.message_id
    assert [(u.destination_addr, u.error_status_code) for u in response.unsuccess_smes] == [
        ("12ab", S.ESME_RINVDSTADR), ("friends", S.ESME_RINVDLNAME)]
    assert await balance(harness) == Decimal("9.90")
    first = await harness.store.get_message(response.message_id)
    assert first.destination.addr == "4917600000002"
    await pass_time(harness, 0)
    receipts = await take(client, 2)
    by_handset = {r.source_addr: r.tlvs.receipted_message_id for r in receipts}
    assert by_handset["4917600000002"] == response.message_id
    assert by_handset["4917600000003"] not in ("", response.message_id)


@pytest_twisted.ensureDeferred
async def test_submit_multi_lists_the_destinations_the_balance_could_not_pay(harness):
    await harness.account(balance="0.10")
    client = await harness.bound()
    dests = [sme(f"491760000000{n}") for n in range(3)]
    response = await answer(client, multi(2, *dests))
    assert response.command_status == S.ESME_ROK
    assert [(u.destination_addr, u.error_status_code) for u in response.unsuccess_smes] == [
        ("4917600000002", S.ESME_RINVBALANCE)]
    assert await balance(harness) == 0


@pytest_twisted.ensureDeferred
async def test_submit_multi_where_every_destination_fails_answers_with_the_first_error(harness):
    await harness.account()
    client = await harness.bound()
    response = await answer(client, multi(2, sme("12ab"), sme("4917600000002", ton=5)))
    assert response.command_status == S.ESME_RINVDSTADR
    assert response.message_id == ""
    assert [u.error_status_code for u in response.unsuccess_smes] == [
        S.ESME_RINVDSTADR, S.ESME_RINVDSTTON]
    invalid = await answer(client, multi(3, sme("4917600000002"), esm_class=0x04))
    assert invalid.command_status == S.ESME_RINVESMCLASS
    both = await answer(client, multi(4, sme("4917600000002"),
                                      tlvs=P.Tlvs(message_payload=b"payload")))
    assert both.command_status == S.ESME_RINVOPTPARAMVAL and both.unsuccess_smes == ()
    assert await balance(harness) == Decimal(10)


@pytest_twisted.ensureDeferred
async def test_submit_multi_with_no_destination_is_refused_with_invalid_number_of_dests(harness):
    await harness.account()
    client = await harness.bound()
    body = (b"\x00" + b"\x01\x01" + SOURCE.encode() + b"\x00" + b"\x00"  # number_of_dests 0
            + b"\x00\x00\x00" + b"\x00\x00" + b"\x01\x00\x00\x00" + b"\x00")
    header = struct.pack(">IIII", 16 + len(body), CommandId.SUBMIT_MULTI, 0, 2)
    client.protocol.dataReceived(header + body)
    response = await client.next_pdu()
    assert isinstance(response, P.SubmitMultiResp)
    assert response.command_status == S.ESME_RINVNUMDESTS


# --- data_sm ---------------------------------------------------------------------------------

def data(seq: int, **fields) -> P.DataSm:
    defaults = dict(source_addr_ton=1, source_addr_npi=1, source_addr=SOURCE, dest_addr_ton=1,
                    dest_addr_npi=1, destination_addr=DEST, registered_delivery=1)
    defaults.update(fields)
    return P.DataSm(sequence_number=seq, **defaults)


@pytest_twisted.ensureDeferred
async def test_data_sm_is_a_submit_of_its_payload_with_a_receipt(harness):
    await harness.account()
    client = await harness.bound()
    response = await answer(client, data(2, tlvs=P.Tlvs(message_payload=b"x" * 400)))
    assert isinstance(response, P.DataSmResp) and response.command_status == S.ESME_ROK
    stored = await harness.store.get_message(response.message_id)
    assert (stored.body, stored.parts) == (b"x" * 400, 3)
    assert await balance(harness) == Decimal("9.85")
    await pass_time(harness, 0)
    receipt = await client.next_pdu()
    assert receipt.tlvs.receipted_message_id == response.message_id
    assert receipt.short_message.decode().startswith(f"id:{response.message_id} sub:003")


@pytest_twisted.ensureDeferred
async def test_data_sm_refusals_use_the_submit_codes_and_the_bind_rules(harness):
    await harness.account(throughput=2, max_binds=3)
    client = await harness.bound()
    bad = await answer(client, data(2, destination_addr="12ab"))
    assert isinstance(bad, P.DataSmResp) and bad.command_status == S.ESME_RINVDSTADR
    assert (await answer(client, data(3))).command_status == S.ESME_ROK
    assert (await answer(client, data(4))).command_status == S.ESME_RTHROTTLED
    receiver = await harness.bound(P.BindReceiver)
    assert (await answer(receiver, data(5))).command_status == S.ESME_RINVBNDSTS


# --- message content -------------------------------------------------------------------------

async def stored_parts(harness, client, seq: int, **fields) -> int:
    message_id = await submitted(client, seq, **fields)
    return (await harness.store.get_message(message_id)).parts


@pytest_twisted.ensureDeferred
async def test_wap_push_si_segments_are_accepted_and_billed_one_part_each(harness):
    await harness.account()
    client = await harness.bound()
    segments = wap_push_segments("http://example.com/" + "a" * 200, "news " * 20, ref=3)
    assert len(segments) > 1
    for seq, segment in enumerate(segments, start=2):
        assert await stored_parts(harness, client, seq, short_message=segment, esm_class=0x40,
                                  data_coding=0x04, registered_delivery=0) == 1
    assert await balance(harness) == Decimal(10) - Decimal("0.05") * len(segments)


@pytest_twisted.ensureDeferred
async def test_flash_sms_is_accepted_and_billed_by_the_parts_of_its_alphabet(harness):
    await harness.account()
    client = await harness.bound()
    assert await stored_parts(harness, client, 2, data_coding=0x10, short_message=b"x" * 160) == 1
    assert await stored_parts(harness, client, 3, data_coding=0xF0, short_message=b"x" * 161) == 2
    assert await stored_parts(harness, client, 4, data_coding=0x18,
                              short_message=b"\x00a" * 71) == 2  # UCS2 flash: 70 per SMS
    assert await stored_parts(harness, client, 5, short_message=b"x" * 200) == 2
    assert await balance(harness) == Decimal("9.65")


@pytest_twisted.ensureDeferred
async def test_udh_parts_8_and_16_bit_ref_bill_one_part_each_and_honour_a_first_part_receipt(
    harness,
):
    await harness.account()
    client = await harness.bound()
    ids = []
    for seq, ref16 in ((2, False), (4, True)):
        first = build_udh([concat_ie(0x1234 if ref16 else 0x12, 2, 1, ref16)]) + b"a" * 153
        second = build_udh([concat_ie(0x1234 if ref16 else 0x12, 2, 2, ref16)]) + b"b" * 10
        ids.append(await submitted(client, seq, esm_class=0x40, short_message=first,
                                   registered_delivery=1))
        await submitted(client, seq + 1, esm_class=0x40, short_message=second,
                        registered_delivery=0)
    assert await balance(harness) == Decimal("9.80")  # four parts
    await pass_time(harness, 0)
    receipts = await take(client, 2)
    assert sorted(r.tlvs.receipted_message_id for r in receipts) == sorted(ids)
    assert client.pdus() == []  # no receipt for the second parts


@pytest_twisted.ensureDeferred
async def test_sar_numbered_parts_are_accepted_and_inconsistent_sar_is_refused(harness):
    await harness.account()
    client = await harness.bound()
    for seq, n in ((2, 1), (3, 2)):
        sar = P.Tlvs(sar_msg_ref_num=77, sar_total_segments=2, sar_segment_seqnum=n)
        assert await stored_parts(harness, client, seq, short_message=b"c" * 153, tlvs=sar) == 1
    cases = [
        (P.Tlvs(sar_msg_ref_num=77, sar_total_segments=2), S.ESME_RMISSINGOPTPARAM),
        (P.Tlvs(sar_msg_ref_num=77, sar_total_segments=2, sar_segment_seqnum=3),
         S.ESME_RINVOPTPARAMVAL),
        (P.Tlvs(sar_msg_ref_num=77, sar_total_segments=2, sar_segment_seqnum=0),
         S.ESME_RINVOPTPARAMVAL),
    ]
    for seq, (tlvs, status) in enumerate(cases, start=10):
        assert (await answer(client, submit(seq, tlvs=tlvs))).command_status == status


@pytest_twisted.ensureDeferred
async def test_udhi_without_a_udh_and_a_bad_replace_flag_are_refused(harness):
    await harness.account()
    client = await harness.bound()
    no_udh = await answer(client, submit(2, esm_class=0x40, short_message=b"\x50plain text"))
    assert no_udh.command_status == S.ESME_RINVESMCLASS
    flag = await answer(client, submit(3, replace_if_present_flag=2))
    assert flag.command_status == S.ESME_RINVREPFLAG
    assert (await answer(client, submit(4, replace_if_present_flag=1))).command_status == 0
    kannel = build_udh([concat_ie(5, 2, 1)]) + b"part one"  # Kannel's 0x43: mode bits + UDHI
    for seq, esm_class, body in ((5, 0x03, b"plain"), (6, 0x43, kannel)):
        response = await answer(client, submit(seq, esm_class=esm_class, short_message=body,
                                                registered_delivery=0x11, service_type="CMT"))
        assert response.command_status == S.ESME_ROK
