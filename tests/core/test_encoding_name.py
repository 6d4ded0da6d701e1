"""encoding_name: the HTTP API's and the webhooks' name for a data_coding, from a table
worked out at import, that must agree with the alphabet the text layer reads."""
from __future__ import annotations

import pytest

from gateway.core.events import encoding_name
from gateway.text.encoding import Alphabet, alphabet


@pytest.mark.parametrize("data_coding", range(256))
def test_every_octet_is_named_for_its_alphabet(data_coding: int) -> None:
    expected = {Alphabet.GSM7: "gsm7", Alphabet.UCS2: "ucs2"}.get(alphabet(data_coding),
                                                                  "binary")
    assert encoding_name(data_coding) == expected


def test_the_common_codings_by_name() -> None:
    assert [encoding_name(dc) for dc in (0x00, 0x08, 0x04, 0x03, 0xF0, 0xF4)] == [
        "gsm7", "ucs2", "binary", "binary", "gsm7", "binary"]
