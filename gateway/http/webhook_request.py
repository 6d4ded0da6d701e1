"""A webhook's request as bytes: the target a URL becomes (worked out once per URL) and
the POST written from it, head and body in one buffer. Pure: no I/O."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.web.client import URI

__all__ = ["Target", "host_value", "request_bytes"]


@dataclass(frozen=True, slots=True)
class Target:
    """What a URL becomes: its parsed URI, the (scheme, host, port) its connections are
    kept under, its endpoint, and the request path and the Host header's value as the
    head's text (latin-1, as they go on the wire)."""

    uri: URI
    key: tuple[bytes, bytes, int]
    endpoint: IStreamClientEndpoint
    path: str
    host: str


def host_value(scheme: bytes, host: bytes, port: int) -> str:
    """The Host header for a URI's parts, as Agent writes it: an IPv6 address in
    brackets, the port left out when it is the scheme's default."""
    text = host.decode("latin-1")
    if ":" in text:  # URI.fromBytes keeps an IPv6 address without its brackets
        text = "[" + text + "]"
    if (scheme, port) in ((b"http", 80), (b"https", 443)):
        return text
    return f"{text}:{port}"


def request_bytes(target: Target, data: bytes, headers: dict[str, str] | None) -> bytes:
    """The POST of `data` to `target` with `headers` (latin-1). Content-Length is always
    the body's own (a caller's is dropped); Host is the target's unless the caller sets
    one. A name or value holding a line break (a forged header) raises ValueError."""
    parts = ["POST ", target.path, " HTTP/1.1\r\nContent-Length: %d\r\n" % len(data)]
    line_ends = 3  # the request line's, the length's and the blank line's
    own_host = True
    for name, value in (headers or {}).items():
        lower = _header_name(name)
        if lower == "content-length":
            continue
        if lower == "host":
            own_host = False
        parts += (name, ": ", value, "\r\n")
        line_ends += 1
    if own_host:
        parts += ("Host: ", target.host, "\r\n")
        line_ends += 1
    parts.append("\r\n")
    head = "".join(parts)
    # names are checked on their own; a value (or the path) holding a CR or an LF makes
    # the head's count of either larger than its count of line ends
    if head.count("\n") != line_ends or head.count("\r") != line_ends:
        _refuse_value(headers or {})
    return head.encode("latin-1") + data


@lru_cache(maxsize=256)
def _header_name(name: str) -> str:
    """`name` in lower case, once it is known to hold no line break and no colon (the
    same few names come with every request)."""
    if "\r" in name or "\n" in name or ":" in name:
        raise ValueError(f"header {name!r} holds a line break or a colon in its name")
    return name.lower()


def _refuse_value(headers: dict[str, str]) -> None:
    """Raise for the head a line break made longer, naming the header that holds it."""
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} holds a line break in its value")
    raise ValueError("the request's path holds a line break")
