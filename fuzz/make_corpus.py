"""Write the seed corpora of the fuzz harnesses from the codec and the golden vectors.

    python fuzz/make_corpus.py          # rewrites fuzz/corpus/smpp and fuzz/corpus/text

Seeds are real traffic: every golden frame of tests/smpp/test_codec.py, and the PDU
sequences each bind state sees (binds, submits with UDH or SAR, receipts, enquire_link,
unbind), prefixed with the harness's three control octets (see smpp_session.py). The
text seeds are short_message bodies: GSM, UCS2 with surrogates, UDH concat and port IEs,
SAR numbering, cut from split_message.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from gateway.smpp import pdu as P  # noqa: E402
from gateway.smpp.codec import encode  # noqa: E402
from gateway.text.concat import split_message  # noqa: E402
from gateway.text.encoding import encode_text  # noqa: E402
from gateway.text.udh import build_udh, port_ie  # noqa: E402


def golden_frames() -> list[bytes]:
    spec = importlib.util.spec_from_file_location("golden", ROOT / "tests/smpp/test_codec.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [bytes.fromhex(param.values[1]) for param in module.GOLDEN]


def _submit(seq: int, body: bytes, **fields) -> bytes:
    return encode(P.SubmitSm(sequence_number=seq, source_addr="4930123456",
                             destination_addr="4917000000", short_message=body,
                             registered_delivery=1, **fields))


def traffic() -> list[bytes]:
    """A session's worth of customer PDUs, in the order a real ESME sends them."""
    long_parts = split_message("x" * 200, 0, ref=7)
    sar_parts = split_message("\u20ac" * 80, 8, ref=300, method="sar")
    frames = [
        _submit(2, b"Hello"),
        *[_submit(3 + i, seg.body, esm_class=0x40) for i, seg in enumerate(long_parts)],
        *[_submit(10 + i, seg.body, data_coding=8,
                  tlvs=P.Tlvs(sar_msg_ref_num=seg.sar.ref, sar_total_segments=seg.sar.total,
                              sar_segment_seqnum=seg.sar.seq)) for i, seg in enumerate(sar_parts)],
        encode(P.EnquireLink(sequence_number=20)),
        encode(P.QuerySm(sequence_number=21, message_id="12345", source_addr="4930123456")),
        encode(P.CancelSm(sequence_number=22, message_id="12345", source_addr="4930123456",
                          destination_addr="4917000000")),
        encode(P.DataSm(sequence_number=23, destination_addr="4917000000",
                        tlvs=P.Tlvs(message_payload=b"payload" * 40))),
        encode(P.DeliverSmResp(sequence_number=1)),
        encode(P.DeliverSmResp(sequence_number=2, command_status=0x14)),
        encode(P.GenericNack(sequence_number=3, command_status=0x03)),
        encode(P.Unbind(sequence_number=24)),
    ]
    return frames


def smpp_seeds() -> list[bytes]:
    golden = golden_frames()
    bind = encode(P.BindTransceiver(sequence_number=1, system_id="fuzz", password="pw"))
    session = traffic()
    seeds = []
    for scenario in range(13):
        for cut, policy in ((0, 0), (1, 8), (7, 1), (0, 2 | 8), (19, 4)):
            head = bytes([scenario, cut, policy])
            seeds.append(head + b"".join(session))
            seeds.append(head + bind + b"".join(session[:4]))
        seeds += [bytes([scenario, 0, 0]) + frame for frame in golden]
    return seeds


def text_seeds() -> list[bytes]:
    """octet 0 data_coding, octet 1 flags (see text.py), then the body."""
    seeds = []
    bodies = {
        0x00: [encode_text("Hello [world] {\u20ac}", 0), encode_text("@" * 170, 0)],
        0x08: [encode_text("\U0001F600 smile \u0416", 8), b"\xd8\x3d", b"\x00a\xdc\x00"],
        0x01: [b"ASCII ~ | ^ text"],
        0x03: [bytes(range(32, 256))],
        0x04: [bytes(range(256))],
        0xF0: [encode_text("flash", 0)],
        0x18: [encode_text("flash ucs2", 8)],
    }
    for dc, items in bodies.items():
        for body in items:
            seeds.append(bytes([dc, 0]) + body)
            for flags in (1, 3, 5):
                for seg in split_message(body * 3, dc, ref=dc + 1, method="udh"):
                    seeds.append(bytes([dc, flags]) + seg.body)
            seeds.append(bytes([dc, 6]) + body * 2)
    ports = build_udh([port_ie(2948, 9200)]) + b"\x01\x06\x03\xae" + b"wap" * 50
    seeds.append(bytes([0x04, 1]) + ports)
    seeds.append(bytes([0x00, 1]) + b"\x06\x08\x04\x12\x34\x03\x02" + b"part two")
    seeds.append(bytes([0x00, 1]) + b"\x05\x00\x03\x07\x03\x01" + b"part one")
    # regression seeds: a well-formed UDH (one vendor IE) that fills the whole SMS
    for udhl in (130, 136, 139):
        seeds.append(bytes([0x00, 1]) + bytes([udhl, 0x70, udhl - 2]) + bytes(udhl - 2)
                     + b"x" * 100)
    return seeds


def write(directory: Path, seeds: list[bytes]) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("seed-*"):
        old.unlink()
    for seed in seeds:
        (directory / f"seed-{hashlib.sha1(seed).hexdigest()[:16]}").write_bytes(seed)
    return len({hashlib.sha1(s).hexdigest()[:16] for s in seeds})


def main() -> None:
    print("smpp:", write(HERE / "corpus" / "smpp", smpp_seeds()), "seeds")
    print("text:", write(HERE / "corpus" / "text", text_seeds()), "seeds")


if __name__ == "__main__":
    main()
