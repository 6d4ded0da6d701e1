"""Pure SMS text handling: GSM 03.38, UCS2, part counting, UDH/SAR splitting. No I/O."""
from gateway.text.concat import (
    PartialMessage,
    Reassembler,
    Sar,
    Segment,
    reassemble,
    split_message,
)
from gateway.text.encoding import (
    Alphabet,
    alphabet,
    choose_data_coding,
    decode_body,
    encode_text,
)
from gateway.text.errors import ReassemblyError, UdhError, UnencodableText
from gateway.text.parts import (
    MAX_PARTS,
    count_parts,
    count_parts_bytes,
    part_capacity,
    split_payload,
    split_text,
)
from gateway.text.udh import (
    Concat,
    InformationElement,
    Ports,
    Udh,
    build_udh,
    concat_ie,
    parse_udh,
    port_ie,
)
from gateway.text.wap_push import build_si, push_segments, wap_push_segments

__all__ = [
    "MAX_PARTS",
    "Alphabet",
    "Concat",
    "InformationElement",
    "PartialMessage",
    "Ports",
    "Reassembler",
    "ReassemblyError",
    "Sar",
    "Segment",
    "Udh",
    "UdhError",
    "UnencodableText",
    "alphabet",
    "build_si",
    "build_udh",
    "choose_data_coding",
    "concat_ie",
    "count_parts",
    "count_parts_bytes",
    "decode_body",
    "encode_text",
    "parse_udh",
    "part_capacity",
    "port_ie",
    "push_segments",
    "reassemble",
    "split_message",
    "split_payload",
    "split_text",
    "wap_push_segments",
]
