"""JSON log lines: the fields of an event, failures, no field that may hold a credential,
the level filter, and how [log] reaches twistd and twist."""
from __future__ import annotations

import io
import json
import sys

from twisted.logger import ILogObserver, Logger, LogLevel, jsonFileLogObserver
from twisted.python import usage
from twisted.python.failure import Failure

from gateway.config import LogConfig
from gateway.ops.logs import JsonLinesObserver, json_record, observer_for, runner_observer


def _events(config: LogConfig, emit) -> list[dict]:
    out = io.StringIO()
    log = Logger(namespace="gateway.transport.smpp_server", observer=observer_for(config, out))
    emit(log)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_json_line_has_time_level_event_message_and_context():
    [line] = _events(LogConfig(format="json"), lambda log: log.info(
        "{peer} bound as {kind} for {account}", peer="127.0.0.1:4000", kind="transceiver",
        account="acme", event="smpp.bind"))
    assert line["time"].endswith("Z") and line["time"][10] == "T"
    assert (line["level"], line["event"], line["account"], line["peer"]) == (
        "info", "smpp.bind", "acme", "127.0.0.1:4000")
    assert line["message"] == "127.0.0.1:4000 bound as transceiver for acme"
    assert line["logger"] == "gateway.transport.smpp_server"


def test_without_an_event_name_the_namespace_names_it_and_ids_become_message_ids():
    out = io.StringIO()
    log = Logger(namespace="gateway.core.router", observer=JsonLinesObserver(out))
    log.info("connector {name} refused {id}", name="op1", id="382830")
    line = json.loads(out.getvalue())
    assert line["event"] == "gateway.core.router"
    assert line["message_id"] == "382830"
    assert "connector" not in line  # `name` is a connector's only in connector modules


def test_connector_modules_name_their_connector():
    record = json_record({"log_namespace": "gateway.connectors.smpp", "log_level": LogLevel.warn,
                          "log_format": "upstream {name}", "name": "op1", "log_time": 0.0})
    assert record["connector"] == "op1"


def test_fields_named_like_credentials_are_never_copied():
    [line] = _events(LogConfig(format="json"), lambda log: log.info(
        "login", password="hunter2", api_key="k", token="t", webhook_secret="s",
        account="acme"))
    assert "hunter2" not in json.dumps(line)
    assert line["account"] == "acme"


def test_a_failure_carries_its_error_and_traceback():
    def emit(log):
        try:
            raise ValueError("boom")
        except ValueError:
            log.failure("store write failed", Failure(), event="store.error")

    [line] = _events(LogConfig(format="json"), emit)
    assert (line["level"], line["event"]) == ("critical", "store.error")
    assert line["error"] == "ValueError: boom"
    assert "Traceback" in line["traceback"]


def test_events_below_the_level_are_dropped():
    lines = _events(LogConfig(format="json", level="warn"), lambda log: (
        log.debug("d"), log.info("i"), log.warn("w"), log.error("e")))
    assert [line["level"] for line in lines] == ["warn", "error"]


def test_text_format_writes_twisted_lines():
    out = io.StringIO()
    Logger(namespace="x", observer=observer_for(LogConfig(), out)).info("hello {n}", n=1)
    assert out.getvalue().endswith("[x#info] hello 1\n")


class _Sub(usage.Options):
    pass


def test_twist_gets_the_format_and_level_through_its_options():
    parent = usage.Options()
    parent["fileLogObserverFactory"] = jsonFileLogObserver
    parent["logLevel"] = LogLevel.info
    options = _Sub()
    options.parent = parent
    assert runner_observer(options, LogConfig(format="json", level="error")) is None
    assert parent["fileLogObserverFactory"] is JsonLinesObserver
    assert parent["logLevel"] is LogLevel.error


def test_twistd_in_the_foreground_gets_an_observer_on_stdout():
    parent = usage.Options()
    parent.update({"logfile": None, "nodaemon": True, "syslog": False, "logger": None})
    options = _Sub()
    options.parent = parent
    observer = runner_observer(options, LogConfig(format="json"))
    assert ILogObserver.providedBy(observer)
    assert observer._observer._out is sys.stdout
    parent["syslog"] = True  # twistd's own syslog output is left alone
    assert runner_observer(options, LogConfig(format="json")) is None
