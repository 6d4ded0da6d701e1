"""A webhook's request bytes (http/webhook_request.py): the head as Agent would write it,
and every way a header could smuggle a line into it refused, naming the header."""
from __future__ import annotations

import pytest
from twisted.web.client import URI

from gateway.http.webhook_request import Target, request_bytes


def target(path: str = "/hook?x=1", host: str = "hooks.example:8443") -> Target:
    return Target(uri=URI.fromBytes(b"https://hooks.example:8443/hook?x=1"),
                  key=(b"https", b"hooks.example", 8443), endpoint=None,  # type: ignore
                  path=path, host=host)


def test_the_head_holds_the_path_the_length_the_headers_and_the_host():
    request = request_bytes(target(), b'{"a":1}', {"Content-Type": "application/json",
                                                   "X-Smsgw-Signature": "t=1,v1=ab"})
    assert request == (b"POST /hook?x=1 HTTP/1.1\r\nContent-Length: 7\r\n"
                       b"Content-Type: application/json\r\nX-Smsgw-Signature: t=1,v1=ab\r\n"
                       b"Host: hooks.example:8443\r\n\r\n{\"a\":1}")


def test_a_callers_length_is_dropped_and_its_host_kept():
    request = request_bytes(target(), b"{}", {"content-length": "99", "HOST": "other"})
    assert request == (b"POST /hook?x=1 HTTP/1.1\r\nContent-Length: 2\r\n"
                       b"HOST: other\r\n\r\n{}")


def test_no_headers_and_a_latin_1_value():
    assert request_bytes(target(), b"", None) == (
        b"POST /hook?x=1 HTTP/1.1\r\nContent-Length: 0\r\nHost: hooks.example:8443\r\n\r\n")
    assert b"X-Name: Jos\xe9\r\n" in request_bytes(target(), b"", {"X-Name": "José"})


@pytest.mark.parametrize("value", ["a\r\nX-Forged: 1", "a\nX-Forged: 1", "a\rb", "\n",
                                   "a\r\n\r\nGET / HTTP/1.1"])
def test_a_value_with_a_line_break_is_refused_naming_its_header(value):
    with pytest.raises(ValueError, match="'X-Smsgw-Event-Id' holds a line break in its value"):
        request_bytes(target(), b"{}", {"Content-Type": "application/json",
                                        "X-Smsgw-Event-Id": value})


@pytest.mark.parametrize("name", ["X-Forged\r\nX", "X\nY", "X\r", "X-A: b", ":"])
def test_a_name_with_a_line_break_or_a_colon_is_refused(name):
    with pytest.raises(ValueError, match="line break or a colon in its name"):
        request_bytes(target(), b"{}", {name: "1"})


def test_a_path_with_a_line_break_is_refused():
    with pytest.raises(ValueError, match="path holds a line break"):
        request_bytes(target(path="/a\r\nX-Forged: 1"), b"{}", {"X-A": "b"})


def test_a_value_outside_latin_1_is_refused():
    with pytest.raises(ValueError):
        request_bytes(target(), b"{}", {"X-Name": "Ω"})
