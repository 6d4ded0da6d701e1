"""HTTP plumbing shared by the public and admin APIs: JSON responses and errors, JSON
request bodies, JSON error handlers for Klein apps, and a Site whose requests refuse bodies
above a size cap (413) without keeping them and answer any unexpected failure with a JSON
500, never Twisted's HTML error page."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from klein import Klein
from twisted.logger import Logger
from twisted.web.server import Request, Site
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from gateway.core.json_text import compact_json
from gateway.http.access_log import AccessLog

__all__ = ["BadBody", "CappedSite", "InvalidField", "error", "json_errors", "json_response",
           "parse_json", "raw_json_error", "read_json", "unencodable_field"]

log = Logger()

JSON = b"application/json"


class BadBody(Exception):
    """A request body that is not a JSON object we can read; `status` is 400 or 415."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class InvalidField(Exception):
    """A request field with a bad value: answered 400 naming `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def json_response(request: Any, status: int, body: Any) -> bytes:
    """Set the status and content type; return the JSON bytes to write."""
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    data = compact_json(body)
    request.setHeader(b"content-length", b"%d" % len(data))  # no chunked encoding needed
    return data


def error(request: Any, status: int, code: str, message: str, **extra: str) -> bytes:
    """A JSON error: {"error": {"code", "message", ...}}."""
    return json_response(request, status, {"error": {"code": code, "message": message, **extra}})


def raw_json_error(status: int, reason: str, code: str, message: str) -> bytes:
    """A whole JSON error response (status line, headers, body) that closes the connection:
    for answers written straight to a transport, before (or instead of) processing a
    request (413, 408, 503)."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (status, reason.encode(), len(body), body))


def json_errors(app: Klein, where: str) -> None:
    """Register JSON answers on `app` for what Klein would otherwise answer with an HTML
    page: no such route (404), a route without this method (405, with Allow) and any
    exception a handler lets out (500, logged with its traceback). `where` names the API
    in the messages and the log ("/admin/v1/webhooks")."""

    # Klein calls a handler with the app's instance first when the app is bound to one
    # (an app declared in a class body) and without it otherwise: take the last two.
    def not_found(*args: Any) -> bytes:
        request, _failure = args[-2:]
        return error(request, 404, "not_found", f"no such resource under {where}")

    def not_allowed(*args: Any) -> bytes:
        request, failure = args[-2:]
        allowed = getattr(failure.value, "valid_methods", None) or []
        if allowed:
            request.setHeader(b"allow", ", ".join(sorted(allowed)).encode())
        return error(request, 405, "method_not_allowed",
                     f"{request.method.decode('latin-1')} is not allowed here")

    def internal(*args: Any) -> bytes:
        request, failure = args[-2:]
        log.failure("request {method} {uri} under {where} failed", failure,
                    method=request.method, uri=request.uri, where=where)
        return error(request, 500, "internal_error", "the gateway failed to answer")

    app.handle_errors(NotFound, RequestRedirect)(not_found)
    app.handle_errors(MethodNotAllowed)(not_allowed)
    app.handle_errors(Exception)(internal)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def read_json(request: Any) -> Any:
    """The request's body parsed as JSON; BadBody for a wrong content type or bad JSON."""
    content_type = (request.getHeader(b"content-type") or "")
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/")
                                             and media.endswith("+json")):
        raise BadBody(415, "send the body as application/json")
    request.content.seek(0)
    return parse_json(request.content.read())


# Where orjson and the stdlib differ, the body goes to the stdlib: orjson reads an integer
# past 64 bits (19 digits or more) as a float, where the stdlib keeps it exact; and orjson
# nests 1,024 deep, where the stdlib stops at the recursion limit, a few hundred levels
# sooner (what walks a parsed body recursively must not meet a deeper one). One C pass
# maps each digit to "0" and each "[" or "{" to "[", to count both.
_DIGITS_AND_OPENERS = bytes(
    0x30 if 0x30 <= octet <= 0x39 else 0x5B if octet in b"[{" else 0x20
    for octet in range(256))
_LONG_NUMBER = b"0" * 19
_FEW_OPENERS = 256


def parse_json(raw: bytes) -> Any:
    """`raw` as JSON, the stdlib's way; BadBody if it is not UTF-8 or not JSON.

    orjson parses the common body in a fraction of the stdlib's time. A body it refuses,
    one with a long number, or one with many brackets (perhaps deeply nested) goes to the
    stdlib instead, so every result and every error message is the stdlib's."""
    shape = raw.translate(_DIGITS_AND_OPENERS)
    if _LONG_NUMBER not in shape and shape.count(b"[") < _FEW_OPENERS:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return _stdlib_json(raw)


def _stdlib_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise BadBody(400, "the body is not UTF-8") from None
    except RecursionError:
        raise BadBody(400, "the body is nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, NaN/Infinity, integers past 4300 digits
        raise BadBody(400, f"the body is not valid JSON: {e}") from None


def unencodable_field(value: Any, name: str = "body") -> str | None:
    """The first field (dotted/indexed name) holding a string that is not valid Unicode
    (a lone surrogate, which JSON allows as an escape): nothing downstream can store it."""
    # orjson writes a value only when every string in it is valid UTF-8, in one C pass: a
    # twentieth of the walk below for a 100-recipient send. Any refusal (a surrogate, an
    # integer past 64 bits, a depth past orjson's) leaves the answer to the walk.
    try:
        orjson.dumps(value)
    except TypeError:
        return _first_unencodable(value, name)
    return None


def _first_unencodable(value: Any, name: str) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return name
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            field = _first_unencodable(key, name) or _first_unencodable(
                item, str(key) if name == "body" else f"{name}.{key}")
            if field is not None:
                return field
    if isinstance(value, list):
        for index, item in enumerate(value):
            field = _first_unencodable(item, f"{name}[{index}]")
            if field is not None:
                return field
    return None


class CappedRequest(Request):
    """A Request that refuses a body above `site.max_body` bytes as soon as it knows: the
    Content-Length, or the chunks so far, pass the cap. It answers 413 at once and closes
    the connection, so a client cannot make the gateway read (or keep) a huge body."""

    too_large = False
    _received = 0

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self.channel.site.max_body:
            super().gotLength(0)
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.too_large:
            return
        self._received += len(data)
        if self._received > self.channel.site.max_body:
            self.content.seek(0)
            self.content.truncate()
            self._refuse()
            return
        super().handleContentChunk(data)

    def _refuse(self) -> None:
        """Answer 413 on the raw transport (the request was never processed) and hang up."""
        self.too_large = True
        max_body = self.channel.site.max_body
        transport = self.channel.transport
        transport.write(raw_json_error(413, "Request Entity Too Large", "body_too_large",
                                       f"the body is larger than {max_body} bytes"))
        transport.loseConnection()

    def process(self) -> None:
        if self.too_large:
            return  # answered already
        try:
            unquote_to_bytes(self.path.split(b"?", 1)[0]).decode("utf-8")
        except UnicodeDecodeError:
            data = error(self, 400, "invalid_path", "the path is not UTF-8")
            self.write(data)
            self.finish()
            return
        super().process()

    def processingFailed(self, reason: Any) -> None:
        """The last net under every resource: an exception nothing handled becomes a JSON
        500 with a generic message (the traceback goes to the log, never to the client)."""
        log.failure("HTTP request {method} {uri} failed", reason, method=self.method,
                    uri=self.uri)
        if self.finished or self._disconnected:
            return
        if self.startedWriting:  # the status line is out: all we can do is hang up
            self.channel.transport.loseConnection()
            return
        self.responseHeaders.removeHeader(b"content-encoding")
        data = error(self, 500, "internal_error", "the gateway failed to answer")
        self.write(data)
        self.finish()


class CappedSite(Site):
    """A Site for the APIs: request bodies above `max_body` bytes get 413; `access_log`
    says which requests are logged, and where."""

    requestFactory = CappedRequest

    def __init__(self, resource: Any, *, max_body: int, access_log: AccessLog = AccessLog(),
                 **kwargs: Any) -> None:
        # The APIs read JSON only: no parsing of form or multipart bodies (work and memory
        # spent on every POST for nothing).
        super().__init__(resource, parsePOSTFormSubmission=False,
                         logPath=access_log.path or None, **kwargs)
        self.max_body = max_body
        self.displayTracebacks = False
        self.access_log = access_log

    def log(self, request: Any) -> None:
        if self.access_log.wants(request.code):
            super().log(request)
