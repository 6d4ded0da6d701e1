"""Configuration: TOML file + command-line overrides → frozen dataclasses.

Every error names the offending key (e.g. `smpp.port`), and unknown keys are
errors too, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from gateway.connectors.simulator import OutcomeRule, SimulatorConfig
from gateway.core.accounts import LOOPBACK_NETWORKS
from gateway.core.cluster import ClusterConfig
from gateway.core.delivery import DeliveryConfig
from gateway.core.inbound import InboundConfig
from gateway.http.access_log import ACCESS_LOG_MODES
from gateway.http.webhooks import WebhookConfig
from gateway.smpp.constants import STATE_BY_RECEIPT_STAT


LOOPBACK = "127.0.0.1"


class ConfigError(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"configuration key {key!r}: {problem}")
        self.key = key


@dataclass(frozen=True, kw_only=True)
class SmppConfig:
    host: str = LOOPBACK  # this machine only; "0.0.0.0" (or --listen) opens it to the network
    port: int = 2775
    tls_port: int = 2776
    tls_cert: str = ""
    tls_key: str = ""
    system_id: str = "smsgw"
    bind_timeout: float = 10.0
    response_timeout: float = 60.0
    enquire_link_interval: float = 30.0
    max_pdu_size: int = 65536
    max_pending_submits: int = 1000  # per session, answered but not yet stored

    @property
    def tls_enabled(self) -> bool:
        return bool(self.tls_cert and self.tls_key)


@dataclass(frozen=True, kw_only=True)
class HttpConfig:
    host: str = LOOPBACK  # as smpp.host (the admin API stays behind admin.allow)
    port: int = 8080  # 0: any free port (tests)
    max_body_size: int = 1_048_576  # bytes; larger request bodies get 413
    auth_cache: float = 60.0  # s a successful Basic (scrypt) check is remembered
    idempotency_ttl: float = 86_400.0  # s an Idempotency-Key is remembered
    # slow and greedy peers (http/connection_guard.py); the admin API and the console
    # are served by this listener too, so these hold for them as well
    header_timeout: float = 10.0  # s for a whole request head; later: 408 and closed
    body_timeout: float = 30.0  # s for a whole request body after its head
    idle_timeout: float = 60.0  # s a kept-alive connection may wait for its next request
    max_connections: int = 2048  # open HTTP connections, all clients together
    max_connections_per_ip: int = 128  # open HTTP connections from one client address
    # requests logged (http/access_log.py): "errors" (answers of 400 and up), "all" or
    # "off"; with access_log_file, to that file in the combined log format
    access_log: str = "errors"
    access_log_file: str = ""


@dataclass(frozen=True, kw_only=True)
class AuthConfig:
    """Password logins, SMPP and HTTP Basic alike (core/login_limiter.py, verifier.py)."""

    free_attempts: int = 3  # failures (and parallel attempts) per IP before turns are spaced
    base_delay: float = 0.5  # s between the first spaced turns; doubles per failure
    max_delay: float = 8.0  # s at most between two turns
    max_wait: float = 60.0  # s a turn may be away; later ones are refused at once, unchecked
    forget_after: float = 300.0  # s without failures after which they are forgotten
    verifiers: int = 2  # password checks (scrypt, 16 MB each) running at once
    verifier_queue: int = 1000  # checks waiting; more are refused at once (busy)
    remember: float = 300.0  # s a verified SMPP password is recognised without scrypt


@dataclass(frozen=True, kw_only=True)
class AdminConfig:
    # Bearer token of the admin API; empty: generated on first start into
    # <data_dir>/admin-token (mode 0600) and printed with the demo banner.
    token: str = ""
    # The client networks the admin API and the web console answer (403 for others), so
    # opening the HTTP port to the network does not open administration with it.
    allow: tuple[str, ...] = LOOPBACK_NETWORKS


@dataclass(frozen=True, kw_only=True)
class AccountDefaults:
    max_binds: int = 2
    throughput: float = 5.0
    window: int = 10
    demo_balance: Decimal = Decimal(100)


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """`[metrics]`: Prometheus metrics at GET /metrics on the HTTP port, and on a port of
    their own when `port` is set (0: none). `token`: a bearer token /metrics then needs.
    `accounts`: the accounts that get per-account series (opt-in, so their number stays
    bounded)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 0
    token: str = ""
    accounts: tuple[str, ...] = ()


LOG_LEVELS = ("debug", "info", "warn", "error", "critical")


@dataclass(frozen=True, kw_only=True)
class LogConfig:
    """`[log]`: "text" (Twisted's lines) or "json" (one object per line), and the least
    level written."""

    format: str = "text"
    level: str = "info"


@dataclass(frozen=True, kw_only=True)
class Config:
    data_dir: Path = Path("smsgw-data")
    node_id: int = 0
    price_per_part: Decimal = Decimal("0.05")
    # SQLite file (default <data_dir>/smsgw.db), or postgresql://user@host:port/dbname
    database: str = ""
    smpp: SmppConfig = field(default_factory=SmppConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    accounts: AccountDefaults = field(default_factory=AccountDefaults)
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)
    receipts: DeliveryConfig = field(default_factory=DeliveryConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    inbound: InboundConfig = field(default_factory=InboundConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    log: LogConfig = field(default_factory=LogConfig)

    @property
    def database_path(self) -> Path:
        """The SQLite file (when `database` is not a PostgreSQL URL)."""
        return Path(self.database) if self.database else self.data_dir / "smsgw.db"


def load_config(path: str | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read `path` (TOML) if given, then apply dotted-key `overrides` (e.g. {'smpp.port': 2775})."""
    raw: dict[str, Any] = {}
    if path:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except OSError as e:
            raise ConfigError("--config", f"cannot read {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError("--config", f"{path} is not valid TOML: {e}") from None
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = raw
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return _build(raw)


def _build(raw: dict[str, Any]) -> Config:
    top = dict(raw)
    sections = {
        "smpp": _section(top.pop("smpp", {}), SmppConfig, "smpp"),
        "http": _section(top.pop("http", {}), HttpConfig, "http"),
        "admin": _admin(top.pop("admin", {})),
        "auth": _section(top.pop("auth", {}), AuthConfig, "auth"),
        "accounts": _section(top.pop("accounts", {}), AccountDefaults, "accounts"),
        "simulator": _simulator(top.pop("simulator", {})),
        "receipts": _section(top.pop("receipts", {}), DeliveryConfig, "receipts"),
        "webhooks": _section(top.pop("webhooks", {}), WebhookConfig, "webhooks"),
        "cluster": _section(top.pop("cluster", {}), ClusterConfig, "cluster"),
        "inbound": _section(top.pop("inbound", {}), InboundConfig, "inbound"),
        "metrics": _metrics(top.pop("metrics", {})),
        "log": _section(top.pop("log", {}), LogConfig, "log"),
    }
    config = _section(top, Config, "", extra=sections)
    _check(config)
    return config


def _section(raw: Any, cls: type, prefix: str, extra: dict[str, Any] | None = None):
    if not isinstance(raw, dict):
        raise ConfigError(prefix, "must be a table")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = dict(extra or {})
    for key, value in raw.items():
        name = f"{prefix}.{key}" if prefix else key
        f = known.get(key)
        if f is None or key in values:
            raise ConfigError(name, "unknown key")
        values[key] = _coerce(name, value, str(f.type))
    return cls(**values)


def _coerce(name: str, value: Any, type_name: str) -> Any:
    """Check a TOML value against the field's annotation (a string: annotations are lazy)."""
    base = type_name.replace(" | None", "")
    if value is None or (isinstance(value, bool) and base not in ("bool",)):
        if base != "bool":
            raise ConfigError(name, f"must be {_DESCRIPTION.get(base, base)}")
    if base == "Path" and isinstance(value, str):
        return Path(value)
    if base == "Decimal" and isinstance(value, (int, float, str)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ConfigError(name, f"{value!r} is not a number") from None
        if number.is_finite():
            return number
    if base == "bool" and isinstance(value, bool):
        return value
    if base == "int" and isinstance(value, int):
        return value
    if base == "float" and isinstance(value, (int, float)):
        return float(value)
    if base == "str" and isinstance(value, str):
        return value
    raise ConfigError(name, f"must be {_DESCRIPTION.get(base, 'set in its own table')}")


_DESCRIPTION = {
    "Path": "a path string", "Decimal": "a number", "bool": "true or false",
    "int": "an integer", "float": "a number", "str": "a string",
}


def _simulator(raw: Any) -> SimulatorConfig:
    if not isinstance(raw, dict):
        raise ConfigError("simulator", "must be a table")
    raw = dict(raw)
    rules_raw = raw.pop("outcomes", [])
    if not isinstance(rules_raw, list):
        raise ConfigError("simulator.outcomes",
                          "must be an array of tables ([[simulator.outcomes]])")
    rules = []
    for i, rule in enumerate(rules_raw):
        key = f"simulator.outcomes[{i}]"
        if not isinstance(rule, dict):
            raise ConfigError(key, "must be a table")
        rule = dict(rule)
        stat = rule.pop("state", None)
        if not isinstance(stat, str) or stat.upper() not in STATE_BY_RECEIPT_STAT:
            raise ConfigError(f"{key}.state", "must be one of DELIVRD, UNDELIV, EXPIRED, "
                                              "REJECTD, DELETED, UNKNOWN, ACCEPTD")
        state = STATE_BY_RECEIPT_STAT[stat.upper()]
        if not state.is_final:
            raise ConfigError(f"{key}.state", "must be a final state")
        parsed = _section(rule, OutcomeRule, key, extra={"state": state})
        if not 0 <= parsed.percent <= 100:
            raise ConfigError(f"{key}.percent", "must be between 0 and 100")
        if parsed.delay is not None and parsed.delay < 0:
            raise ConfigError(f"{key}.delay", "must not be negative")
        rules.append(parsed)
    config = _section(raw, SimulatorConfig, "simulator", extra={"rules": tuple(rules)})
    if config.delay < 0:
        raise ConfigError("simulator.delay", "must not be negative")
    return config


def _metrics(raw: Any) -> MetricsConfig:
    if not isinstance(raw, dict):
        raise ConfigError("metrics", "must be a table")
    raw = dict(raw)
    accounts = raw.pop("accounts", [])
    if not isinstance(accounts, list) or not all(
            isinstance(a, str) and 1 <= len(a) <= 15 for a in accounts):
        raise ConfigError("metrics.accounts", "must be an array of system_id strings")
    if len(accounts) > 1000:
        raise ConfigError("metrics.accounts", "at most 1000 accounts")
    config = _section(raw, MetricsConfig, "metrics", extra={"accounts": tuple(accounts)})
    if not 0 <= config.port <= 65535:
        raise ConfigError("metrics.port", f"{config.port} is not a TCP port")
    if config.token and len(config.token) < 16:
        raise ConfigError("metrics.token", "must be at least 16 characters")
    return config


def _admin(raw: Any) -> AdminConfig:
    if not isinstance(raw, dict):
        raise ConfigError("admin", "must be a table")
    raw = dict(raw)
    allow = raw.pop("allow", list(LOOPBACK_NETWORKS))
    if not isinstance(allow, list) or not allow or not all(isinstance(a, str) for a in allow):
        raise ConfigError("admin.allow", 'must be a non-empty array of networks, e.g. '
                                         '["127.0.0.0/8", "10.0.0.0/8"] ("0.0.0.0/0": any)')
    networks = []
    for network in allow:
        try:
            networks.append(str(ipaddress.ip_network(network, strict=False)))
        except ValueError:
            raise ConfigError("admin.allow", f"{network!r} is not an IP address or "
                                             "network") from None
    config = _section(raw, AdminConfig, "admin", extra={"allow": tuple(networks)})
    if config.token and len(config.token) < 16:
        raise ConfigError("admin.token", "must be at least 16 characters")
    return config


def _check_host(key: str, host: str) -> None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(key, f"{host!r} is not an IP address (127.0.0.1: this machine "
                               "only, 0.0.0.0: every IPv4 interface, :: every one)") from None


def _check_log(log: LogConfig) -> None:
    if log.format not in ("text", "json"):
        raise ConfigError("log.format", 'must be "text" or "json"')
    if log.level not in LOG_LEVELS:
        raise ConfigError("log.level", "must be one of " + ", ".join(LOG_LEVELS))


def _check_http_limits(http: HttpConfig) -> None:
    for key in ("header_timeout", "body_timeout", "idle_timeout"):
        if not 0 < getattr(http, key) <= 86_400:
            raise ConfigError(f"http.{key}", "must be more than 0 and at most 86400 seconds")
    for key in ("max_connections", "max_connections_per_ip"):
        if not 1 <= getattr(http, key) <= 1_000_000:
            raise ConfigError(f"http.{key}", "must be from 1 to 1000000")
    if http.max_connections_per_ip > http.max_connections:
        raise ConfigError("http.max_connections_per_ip", "must not exceed max_connections")
    if http.access_log not in ACCESS_LOG_MODES:
        raise ConfigError("http.access_log", 'must be "errors", "all" or "off"')
    if http.access_log_file and not Path(http.access_log_file).absolute().parent.is_dir():
        raise ConfigError("http.access_log_file", "its directory does not exist")


def _check(config: Config) -> None:
    smpp = config.smpp
    for key, port in (("smpp.port", smpp.port), ("smpp.tls_port", smpp.tls_port)):
        if not 0 <= port <= 65535:
            raise ConfigError(key, f"{port} is not a TCP port")
    if bool(smpp.tls_cert) != bool(smpp.tls_key):
        missing = "smpp.tls_key" if smpp.tls_cert else "smpp.tls_cert"
        raise ConfigError(missing, "TLS needs both a certificate and a key")
    for key in ("tls_cert", "tls_key"):
        path = getattr(smpp, key)
        if path and not Path(path).is_file():
            raise ConfigError(f"smpp.{key}", f"no such file: {path}")
    if not 0 <= config.http.port <= 65535:
        raise ConfigError("http.port", f"{config.http.port} is not a TCP port")
    if not 1024 <= config.http.max_body_size <= 64 * 1024 * 1024:
        raise ConfigError("http.max_body_size", "must be between 1024 and 67108864")
    if config.http.auth_cache < 0:
        raise ConfigError("http.auth_cache", "must not be negative")
    if config.http.idempotency_ttl <= 0:
        raise ConfigError("http.idempotency_ttl", "must be positive")
    _check_http_limits(config.http)
    if config.admin.token and len(config.admin.token) < 16:
        raise ConfigError("admin.token", "must be at least 16 characters")
    _check_host("smpp.host", smpp.host)
    _check_host("http.host", config.http.host)
    if smpp.max_pdu_size < 16 or smpp.max_pdu_size > 16 * 1024 * 1024:
        raise ConfigError("smpp.max_pdu_size", "must be between 16 and 16777216")
    if not 1 <= len(smpp.system_id) <= 15:
        raise ConfigError("smpp.system_id", "must be 1-15 characters")
    for key in ("bind_timeout", "response_timeout", "enquire_link_interval"):
        if getattr(smpp, key) < 0:
            raise ConfigError(f"smpp.{key}", "must not be negative")
    if not 0 <= config.node_id <= 1023:
        raise ConfigError("node_id", "must be 0-1023")
    if config.price_per_part < 0:
        raise ConfigError("price_per_part", "must not be negative")
    if config.accounts.max_binds < 1:
        raise ConfigError("accounts.max_binds", "must be at least 1")
    if config.accounts.window < 1:
        raise ConfigError("accounts.window", "must be at least 1")
    if config.accounts.throughput < 0:
        raise ConfigError("accounts.throughput", "must not be negative (0 = unlimited)")
    if config.receipts.expiry <= 0:
        raise ConfigError("receipts.expiry", "must be positive")
    _check_webhooks(config.webhooks)
    _check_cluster(config)
    _check_auth(config.auth)
    _check_log(config.log)
    for key in ("reassembly_timeout", "sweep_interval"):
        if getattr(config.inbound, key) <= 0:
            raise ConfigError(f"inbound.{key}", "must be positive")


def _check_cluster(config: Config) -> None:
    cluster = config.cluster
    if cluster.heartbeat_interval <= 0:
        raise ConfigError("cluster.heartbeat_interval", "must be positive")
    if cluster.lease < 3 * cluster.heartbeat_interval:
        raise ConfigError("cluster.lease", "must be at least 3 x cluster.heartbeat_interval")
    if not 1 <= cluster.adopt_page <= 100_000:
        raise ConfigError("cluster.adopt_page", "must be between 1 and 100000")
    if config.receipts.poll_interval <= 0:
        raise ConfigError("receipts.poll_interval", "must be positive")
    database = config.database
    if "://" in database and not database.startswith(("postgresql://", "postgres://")):
        raise ConfigError("database", "must be a SQLite file path or a postgresql:// URL")


def _check_webhooks(webhooks: WebhookConfig) -> None:
    for key in ("timeout", "retry_initial", "retry_max", "dead_letter_after", "poll_interval"):
        if getattr(webhooks, key) <= 0:
            raise ConfigError(f"webhooks.{key}", "must be positive")
    if webhooks.retry_max < webhooks.retry_initial:
        raise ConfigError("webhooks.retry_max", "must not be below webhooks.retry_initial")
    if not 1 <= webhooks.concurrency <= 10_000:
        raise ConfigError("webhooks.concurrency", "must be between 1 and 10000")


def _check_auth(auth: AuthConfig) -> None:
    if auth.free_attempts < 0:
        raise ConfigError("auth.free_attempts", "must not be negative")
    for key in ("base_delay", "max_delay", "max_wait", "forget_after", "remember"):
        if getattr(auth, key) < 0:
            raise ConfigError(f"auth.{key}", "must not be negative")
    if auth.max_delay < auth.base_delay:
        raise ConfigError("auth.max_delay", "must not be below auth.base_delay")
    if not 1 <= auth.verifiers <= 64:
        raise ConfigError("auth.verifiers", "must be between 1 and 64")
    if not 0 <= auth.verifier_queue <= 1_000_000:
        raise ConfigError("auth.verifier_queue", "must be between 0 and 1000000")
