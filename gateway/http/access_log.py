"""Which HTTP requests get an access-log line, and where it goes (`[http] access_log`,
`access_log_file`).

A line for every request costs more than most of the API's own work (Twisted formats each
through the gateway's log observer: about 80 µs, bench/profiles/http_api.md), and an
accepted send is on record anyway (the message store, CDRs). So by default only answers
of 400 and up, the ones support looks for, get a line; "all" logs every request, "off"
none. With a file, the chosen lines go there in the combined log format, written straight
to the file (for logrotate's copytruncate), not through the gateway's log.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACCESS_LOG_MODES", "AccessLog"]

ACCESS_LOG_MODES = ("errors", "all", "off")


@dataclass(frozen=True, kw_only=True)
class AccessLog:
    mode: str = "all"  # a Site built without [http] (tests, tools) logs every request
    path: str = ""  # empty: the gateway's log

    def wants(self, code: int) -> bool:
        """Whether an answer with status `code` gets a line."""
        mode = self.mode
        return mode == "all" or (mode == "errors" and code >= 400)
