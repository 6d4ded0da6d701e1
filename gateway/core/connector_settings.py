"""What an upstream SMPP connector is: where it connects, how it binds, its limits.

Stored as JSON in the store (connectors table), managed by the CLI and the admin API,
turned into live connectors by connectors/smpp.py.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["BIND_MODES", "ConnectorSettings", "SettingsError"]

# transmitter/receiver/transceiver: `binds` sessions of that kind; pair: `binds`
# transmitters plus `binds` receivers.
BIND_MODES = ("transmitter", "receiver", "transceiver", "pair")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
RESERVED_NAMES = frozenset({"simulator"})
# Upper bounds keep a typo (or a hostile admin request) from asking for a million binds,
# and every number within what the store's columns and the timers can hold.
MAX_BINDS = 100
MAX_WINDOW = 10_000
MAX_SECONDS_OR_RATE = 1_000_000.0


class SettingsError(ValueError):
    """A connector setting is invalid; `key` names it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclass(frozen=True, kw_only=True)
class ConnectorSettings:
    name: str
    host: str
    port: int = 2775
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    bind: str = "transceiver"
    binds: int = 1  # sessions of the bind kind (of each kind for a pair)
    window: int = 10  # outstanding submit_sm per session
    throughput: float = 0.0  # submit_sm per second over the whole connector; 0 = no cap
    tls: bool = False
    tls_verify: bool = True  # verify the certificate chain and the host name
    ca_file: str = ""  # PEM of trusted CAs; '' = the system's trust store
    server_name: str = ""  # the name to verify; '' = host
    enquire_link: float = 30.0  # s of silence before enquire_link
    response_timeout: float = 30.0  # s a submit_sm may stay unanswered
    reconnect_max: float = 30.0  # s: the longest wait between reconnect attempts
    throttle_backoff: float = 1.0  # s to pause after ESME_RTHROTTLED / ESME_RMSGQFUL
    refund_rejected: bool = True  # refund messages the upstream refuses permanently
    receipt_hold: float = 10.0  # s a receipt that overtook its submit_sm_resp waits
    enabled: bool = True

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or self.name in RESERVED_NAMES:
            raise SettingsError("name", f"{self.name!r}: 1-32 of A-Z a-z 0-9 _ . - "
                                        "and not 'simulator'")
        if not self.host:
            raise SettingsError("host", "required")
        if not 1 <= self.port <= 65535:
            raise SettingsError("port", f"{self.port} is not a TCP port")
        if self.bind not in BIND_MODES:
            raise SettingsError("bind", f"one of {', '.join(BIND_MODES)}")
        if len(self.system_id) > 15 or len(self.password) > 8:
            raise SettingsError("system_id", "system_id at most 15, password at most 8 chars")
        for key, most in (("binds", MAX_BINDS), ("window", MAX_WINDOW)):
            if not 1 <= getattr(self, key) <= most:
                raise SettingsError(key, f"must be from 1 to {most}")
        for key in ("throughput", "enquire_link", "throttle_backoff", "receipt_hold"):
            if not 0 <= getattr(self, key) <= MAX_SECONDS_OR_RATE:  # NaN fails too
                raise SettingsError(key, f"must be from 0 to {MAX_SECONDS_OR_RATE:g}")
        for key in ("response_timeout", "reconnect_max"):
            if not 0 < getattr(self, key) <= MAX_SECONDS_OR_RATE:
                raise SettingsError(key, f"must be positive and at most "
                                         f"{MAX_SECONDS_OR_RATE:g}")

    @property
    def can_submit(self) -> bool:
        return self.bind != "receiver"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_public_dict(self) -> dict[str, Any]:
        """to_dict without the password (for listings and the admin API)."""
        data = self.to_dict()
        data["password"] = "***" if self.password else ""
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConnectorSettings:
        """Build from JSON-ish data; unknown keys and wrong types are SettingsError."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            f = known.get(key)
            if f is None:
                raise SettingsError(key, "unknown setting")
            values[key] = _coerce(key, value, str(f.type))
        for required in ("name", "host"):
            if required not in values:
                raise SettingsError(required, "required")
        return cls(**values)

    def updated(self, changes: dict[str, Any]) -> ConnectorSettings:
        data = self.to_dict()
        if "name" in changes and changes["name"] != self.name:
            raise SettingsError("name", "cannot be changed")
        data.update(changes)
        return ConnectorSettings.from_dict(data)


def _coerce(key: str, value: Any, type_name: str) -> Any:
    if type_name == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise SettingsError(key, "must be true or false")
    if type_name == "int":
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(key, "must be an integer") from None
    if type_name == "float":
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise SettingsError(key, "must be a number") from None
    if not isinstance(value, str):
        raise SettingsError(key, "must be a string")
    return value
