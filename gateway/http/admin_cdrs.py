"""The admin section `cdrs` (mounted at /admin/v1/cdrs/ behind the admin token):

    GET /?since=&until=&account=&after=&limit=
        CDRs of the messages that became final in [since, until) (RFC 3339 or POSIX
        seconds; until defaults to now), oldest first, `limit` (1-1000, default 100) a page;
        `next` is the cursor to pass as `after` for the following page (null on the last).
"""
from __future__ import annotations

from typing import Any

from klein import Klein
from twisted.internet.interfaces import IReactorTime

from gateway.core.ports import CdrStore
from gateway.http.params import whole_number
from gateway.http.web import InvalidField, error, json_errors, json_response
from gateway.ops.cdr import cdr_record, format_cursor, parse_cursor, parse_time

__all__ = ["CdrAdmin"]

MAX_PAGE = 1000


class CdrAdmin:
    app = Klein()

    def __init__(self, *, store: CdrStore, clock: IReactorTime) -> None:
        self._store = store
        self._clock = clock

    def sections(self) -> dict[str, Klein]:
        return {"cdrs": self.app}

    @app.route("/", methods=["GET"], strict_slashes=False)
    async def list_cdrs(self, request: Any) -> bytes:
        args = {name: _arg(request, name.encode()) for name in (
            "since", "until", "account", "after", "limit")}
        try:
            since = _time(args["since"], "since")
            until = _time(args["until"], "until") if args["until"] else self._clock.seconds()
            after = _cursor(args["after"]) if args["after"] else None
            limit = whole_number(args["limit"], "limit", low=1, high=MAX_PAGE, default=100)
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        if until <= since:
            return error(request, 400, "invalid_field", "until must be after since",
                         field="until")
        rows = await self._store.cdrs(since, until, args["account"] or None, after, limit)
        return json_response(request, 200, {
            "cdrs": [cdr_record(c) for c in rows],
            "next": format_cursor(rows[-1]) if len(rows) == limit else None})

    json_errors(app, "/admin/v1/cdrs")


def _arg(request: Any, name: bytes) -> str:
    return (request.args.get(name) or [b""])[-1].decode("utf-8", "replace")


def _time(text: str, field: str) -> float:
    if not text:
        raise InvalidField(field, f"{field} is required (RFC 3339 time or POSIX seconds)")
    try:
        return parse_time(text)
    except (ValueError, OverflowError) as e:
        raise InvalidField(field, str(e)[:200]) from None


def _cursor(text: str) -> tuple[float, str]:
    try:
        return parse_cursor(text)
    except ValueError as e:
        raise InvalidField("after", str(e)) from None
