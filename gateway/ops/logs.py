"""Log output: Twisted's text lines or JSON lines (one object per event), at a least level.

A JSON line has `time` (RFC 3339 UTC, ms), `level`, `event` (a dotted name such as
`smpp.bind`; the logger's namespace when the call gave none), `message` (the event's text),
and, where the event has them, `message_id`, `account`, `connector`, `peer` and a few more
context fields, plus `error` and `traceback` for failures. Only fields on an allow-list
are copied, and none whose name suggests a credential, so a value logged by mistake does
not leak a password, API key, token or webhook secret through a structured field.

How the observer reaches the runner: `twist` (python -m twisted) takes a file observer
factory and a level from its options; `twistd` takes an ILogObserver component of the
Application, which the gateway service sets when it is given its parent (see
`runner_observer`). Either way `[log]` decides, whatever the runner's own flags say.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
    textFileLogObserver,
)
from twisted.python.logfile import LogFile
from zope.interface import implementer

from gateway.config import LogConfig
from gateway.core.events import iso_time

__all__ = ["JsonLinesObserver", "json_record", "level_of", "observer_for", "runner_observer"]

# context fields copied into a JSON line (the event's key -> the line's key)
_FIELDS = {
    "message_id": "message_id", "account": "account", "connector": "connector",
    "peer": "peer", "kind": "kind", "status": "status", "url": "url",
    "event_id": "event_id", "item_id": "item_id", "host": "host", "port": "port",
    "source": "source", "destination": "destination", "n": "count",
}
_SECRET_WORDS = ("password", "secret", "token", "key", "authorization", "cookie")
# namespaces whose `name` is a connector's and whose `id` is a message id
_CONNECTOR_NAMESPACES = ("gateway.connectors", "gateway.transport.smpp_client")
_MESSAGE_ID_NAMESPACES = ("gateway.core", "gateway.connectors")


def level_of(name: str) -> LogLevel:
    return LogLevel.levelWithName(name)


def json_record(event: dict[str, Any]) -> dict[str, Any]:
    """The JSON object of one twisted.logger event."""
    namespace = event.get("log_namespace") or ""
    level = event.get("log_level")
    record: dict[str, Any] = {
        "time": iso_time(event.get("log_time")),
        "level": getattr(level, "name", "info"),
        "event": event.get("event") if isinstance(event.get("event"), str) else namespace,
        "message": _message(event),
        "logger": namespace,
    }
    for key, name in _FIELDS.items():
        value = event.get(key)
        if _plain(value) and value != "":
            record[name] = value
    if "connector" not in record and namespace.startswith(_CONNECTOR_NAMESPACES):
        if _plain(event.get("name")):
            record["connector"] = event["name"]
    if "message_id" not in record and namespace.startswith(_MESSAGE_ID_NAMESPACES):
        if isinstance(event.get("id"), str) and event["id"].isdigit():
            record["message_id"] = event["id"]
    failure = event.get("log_failure")
    if failure is not None:
        record["error"] = f"{failure.type.__name__}: {failure.getErrorMessage()}"[:2000]
        record["traceback"] = failure.getTraceback()[-8000:]
    return {k: v for k, v in record.items() if not _looks_secret(k)}


def _message(event: dict[str, Any]) -> str:
    try:
        text = formatEvent(event)
    except Exception:  # noqa: BLE001 -- a bad format string must not lose the line
        text = str(event.get("log_format", ""))
    return text or ""


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _looks_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


@implementer(ILogObserver)
class JsonLinesObserver:
    """Writes each event as one JSON object on a line of `out`, flushed at once."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def __call__(self, event: dict[str, Any]) -> None:
        try:
            line = json.dumps(json_record(event), ensure_ascii=False, default=str)
        except Exception as e:  # noqa: BLE001 -- never lose an event to its own formatting
            line = json.dumps({"time": iso_time(event.get("log_time")), "level": "error",
                               "event": "log.unformattable", "message": repr(e)})
        self._out.write(line + "\n")
        self._out.flush()


def format_observer(config: LogConfig) -> Callable[[TextIO], ILogObserver]:
    """The factory of the format's observer over a text file."""
    return JsonLinesObserver if config.format == "json" else textFileLogObserver


def observer_for(config: LogConfig, out: TextIO) -> ILogObserver:
    """The format's observer over `out`, letting through events at the configured level
    and above."""
    predicate = LogLevelFilterPredicate(defaultLogLevel=level_of(config.level))
    return FilteringLogObserver(format_observer(config)(out), [predicate])


def runner_observer(options: Any, config: LogConfig) -> ILogObserver | None:
    """Apply `config` to the runner whose options `options.parent` are. For `twist` its
    options are set here (None is returned); for `twistd` the observer to set as the
    Application's ILogObserver is returned (it writes where twistd would: stdout with -n
    and no --logfile, else the log file). None also when twistd logs to syslog or through
    its own --logger, which are left alone."""
    runner = getattr(options, "parent", None)
    if runner is None:
        return None
    if "fileLogObserverFactory" in runner:  # twist
        runner["fileLogObserverFactory"] = format_observer(config)
        runner["logLevel"] = level_of(config.level)
        return None
    if "logfile" not in runner or runner.get("syslog") or runner.get("logger"):
        return None
    name = runner.get("logfile")
    if name == "-" or (runner.get("nodaemon") and not name):
        out: TextIO = sys.stdout
    else:
        out = LogFile.fromFullPath(name or "twistd.log")  # type: ignore[assignment]
    return observer_for(config, out)
