"""`twistd smsgw`: command-line options and makeService, the one place that reads config."""
from __future__ import annotations

from twisted.application.service import IService
from twisted.python import usage

from gateway.config import Config, ConfigError, load_config


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = ("Run the smsgw SMS gateway. With no options it runs on the embedded default: "
                "SQLite in ./smsgw-data, the built-in SMSC simulator, SMPP on port 2775, "
                "HTTP on 8080, both on 127.0.0.1 only (--listen 0.0.0.0 opens them).")
    optParameters = [
        ["config", "c", None, "TOML configuration file (see README)."],
        ["data-dir", "d", None, "Directory for the SQLite store (default ./smsgw-data)."],
        ["database", None, None,
         "SQLite file, or postgresql://USER@HOST:PORT/DBNAME to share one database "
         "between several nodes (default <data-dir>/smsgw.db)."],
        ["node-id", None, None, "This node's id, 0-1023, unique among the nodes.", int],
        ["listen", None, None,
         "Address SMPP and HTTP listen on (default 127.0.0.1: this machine only; 0.0.0.0: "
         "every interface). The admin API still answers only [admin] allow (loopback)."],
        ["smpp-port", None, None, "SMPP plain TCP port (default 2775).", int],
        ["tls-port", None, None, "SMPP over TLS port (default 2776).", int],
        ["http-port", None, None, "HTTP API port (default 8080).", int],
        ["tls-cert", None, None, "PEM certificate (chain) enabling the TLS listener."],
        ["tls-key", None, None, "PEM private key for --tls-cert."],
    ]

    def postOptions(self) -> None:
        try:
            self.gateway_config = options_to_config(self)
        except ConfigError as e:
            raise usage.UsageError(str(e)) from None


def options_to_config(options: usage.Options) -> Config:
    return load_config(options["config"], {
        "data_dir": options["data-dir"],
        "database": options["database"],
        "node_id": options["node-id"],
        "smpp.host": options["listen"],
        "http.host": options["listen"],
        "smpp.port": options["smpp-port"],
        "smpp.tls_port": options["tls-port"],
        "http.port": options["http-port"],
        "smpp.tls_cert": options["tls-cert"],
        "smpp.tls_key": options["tls-key"],
    })


def makeService(options: Options) -> IService:
    """The gateway over the store `database` names; an unreachable or wrong database stops
    the start here, with a message naming the key."""
    from twisted.internet import reactor

    from gateway.ops.logs import runner_observer
    from gateway.service import GatewayService
    from gateway.storage import StoreUnavailable, open_store

    config = getattr(options, "gateway_config", None) or options_to_config(options)
    try:
        store = open_store(config.database, config.database_path, reactor)
    except StoreUnavailable as e:
        raise SystemExit(f"smsgw: {ConfigError('database', str(e))}") from None
    service = GatewayService(config, reactor, store)
    service.log_observer = runner_observer(options, config.log)  # [log]: format and level
    return service
