"""A webhook's request as bytes: the target a URL becomes (worked out once per URL) and
the POST written from it, head and body in one buffer. Pure: no I/O."""
from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.web.client import URI

__all__ = ["Target", "host_value", "request_bytes"]


@dataclass(frozen=True, slots=True)
class Target:
    """What a URL becomes: its parsed URI, the (scheme, host, port) its connections are
    kept under, its endpoint, the request path and the Host header's value."""

    uri: URI
    key: tuple[bytes, bytes, int]
    endpoint: IStreamClientEndpoint
    path: bytes
    host: bytes


def host_value(scheme: bytes, host: bytes, port: int) -> bytes:
    """The Host header for a URI's parts, as Agent writes it: an IPv6 address in
    brackets, the port left out when it is the scheme's default."""
    if b":" in host:  # URI.fromBytes keeps an IPv6 address without its brackets
        host = b"[" + host + b"]"
    if (scheme, port) in ((b"http", 80), (b"https", 443)):
        return host
    return b"%b:%d" % (host, port)


def request_bytes(target: Target, data: bytes, headers: dict[str, str] | None) -> bytes:
    """The POST of `data` to `target` with `headers` (latin-1). Content-Length is always
    the body's own (a caller's is dropped); Host is the target's unless the caller sets
    one. A name or value holding a line break (a forged header) raises ValueError."""
    lines = [b"POST ", target.path, b" HTTP/1.1\r\nContent-Length: %d\r\n" % len(data)]
    own_host = True
    for name, value in (headers or {}).items():
        if "\r" in name or "\n" in name or ":" in name or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} holds a line break or a colon in its name")
        lower = name.lower()
        if lower == "content-length":
            continue
        if lower == "host":
            own_host = False
        lines += (name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n")
    if own_host:
        lines += (b"Host: ", target.host, b"\r\n")
    lines += (b"\r\n", data)
    return b"".join(lines)
