"""A framing-only null SMSC hosted by Twisted: the floor the gateway is measured against.

    python bench/null_smsc.py [--port 0] [--host 127.0.0.1]

It answers every bind_* with OK, every submit_sm with a fresh message id and, when the
submit asked for one (registered_delivery bit 0 or 1), sends a delivery receipt deliver_sm
at once (receipted_message_id TLV, message_state DELIVERED, the usual DLR text); it
answers enquire_link and unbind, and ignores every response. Nothing else: no store, no
validation, no authentication, no window, no timers. It prints `listening on PORT` once
the port is open, so bench/smpp_e2e.py can start it on port 0 and read the port.

What it costs per message is what the reactor, the kernel and the framing cost: the
gateway's rate divided by this one's (in the same run, with the same load generator) says
how much of the gateway's cost is its own. Not a test and not an SMSC to use.
"""
from __future__ import annotations

import argparse
import struct
import sys

from twisted.internet import protocol, reactor

HEADER = struct.Struct(">IIII")
TLV_HEADER = struct.Struct(">HH")
RESPONSE_BIT = 0x80000000
BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x01, 0x02, 0x09
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x04, 0x05, 0x06, 0x15
BINDS = (BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER)
RECEIPTED_MESSAGE_ID, MESSAGE_STATE = 0x001E, 0x0427
DELIVERED = 2
MAX_FRAME = 64 * 1024
SYSTEM_ID = b"nullsmsc\0"
# deliver_sm mandatory fields before short_message: service_type "", source 1/1 "",
# dest 1/1 "", esm_class 0x04 (a delivery receipt), protocol_id, priority, schedule "",
# validity "", registered_delivery, replace_if_present, data_coding, sm_default_msg_id.
_DELIVER_SM_HEAD = b"\0" + b"\x01\x01\0" + b"\x01\x01\0" + b"\x04\0\0" + b"\0\0" + b"\0\0\0\0"


def registered_delivery(frame: bytes) -> int:
    """The registered_delivery octet of a submit_sm frame (0 when it is cut short)."""
    try:
        pos = frame.index(b"\0", 16) + 3  # service_type, source_addr_ton, source_addr_npi
        pos = frame.index(b"\0", pos) + 3  # source_addr, dest_addr_ton, dest_addr_npi
        pos = frame.index(b"\0", pos) + 4  # destination_addr, esm_class, protocol_id, priority
        pos = frame.index(b"\0", pos) + 1  # schedule_delivery_time
        pos = frame.index(b"\0", pos) + 1  # validity_period
        return frame[pos]
    except (ValueError, IndexError):
        return 0


def receipt_body(message_id: bytes) -> bytes:
    text = (b"id:%s sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 "
            b"stat:DELIVRD err:000 text:" % message_id)
    return (_DELIVER_SM_HEAD + bytes([len(text)]) + text
            + TLV_HEADER.pack(RECEIPTED_MESSAGE_ID, len(message_id) + 1) + message_id + b"\0"
            + TLV_HEADER.pack(MESSAGE_STATE, 1) + bytes([DELIVERED]))


class NullSmsc(protocol.Protocol):
    """One connection: whole frames out of the byte stream, one answer each."""

    def __init__(self, ids: list[int]) -> None:
        self.buffer = b""
        self.ids = ids  # shared counter: message ids unique across connections
        self.sequence = 0

    def dataReceived(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        out: list[bytes] = []
        pos, end = 0, len(buffer)
        while end - pos >= 16:
            length, command_id, _status, seq = HEADER.unpack_from(buffer, pos)
            if length < 16 or length > MAX_FRAME:
                self.transport.loseConnection()
                return
            if end - pos < length:
                break
            if not command_id & RESPONSE_BIT:
                self.answer(buffer[pos:pos + length], command_id, seq, out)
            pos += length
        self.buffer = buffer[pos:]
        if out:
            self.transport.write(b"".join(out))

    def answer(self, frame: bytes, command_id: int, seq: int, out: list[bytes]) -> None:
        if command_id == SUBMIT_SM:
            self.ids[0] += 1
            message_id = b"%x" % self.ids[0]
            out.append(HEADER.pack(17 + len(message_id), SUBMIT_SM | RESPONSE_BIT, 0, seq)
                       + message_id + b"\0")
            if registered_delivery(frame) & 0x03:
                body = receipt_body(message_id)
                self.sequence += 1
                out.append(HEADER.pack(16 + len(body), DELIVER_SM, 0, self.sequence) + body)
        elif command_id in BINDS:
            out.append(HEADER.pack(16 + len(SYSTEM_ID), command_id | RESPONSE_BIT, 0, seq)
                       + SYSTEM_ID)
        elif command_id in (ENQUIRE_LINK, UNBIND):
            out.append(HEADER.pack(16, command_id | RESPONSE_BIT, 0, seq))
            if command_id == UNBIND:
                self.transport.write(b"".join(out))
                out.clear()
                self.transport.loseConnection()
        else:
            out.append(HEADER.pack(16, 0x80000000, 0x03, seq))  # generic_nack: invalid command


class NullSmscFactory(protocol.Factory):
    def __init__(self) -> None:
        self.ids = [0]

    def buildProtocol(self, addr) -> NullSmsc:
        return NullSmsc(self.ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    port = reactor.listenTCP(args.port, NullSmscFactory(), interface=args.host)
    print(f"listening on {port.getHost().port}", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
