"""The lines the first start prints: the demo account, where the gateway listens and who
can reach it, and the one option that opens it to other machines."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from gateway.config import Config

OPEN_UP = 'twistd -n smsgw --listen 0.0.0.0   (file: host = "0.0.0.0" in [smpp] and [http])'


@dataclass(frozen=True)
class DemoStart:
    """What the first start made and bound."""

    system_id: str
    password: str
    admin_token: str
    token_note: str  # where the admin token comes from
    smpp_port: int  # the bound ones, also when configured as 0
    http_port: int


def demo_banner(config: Config, start: DemoStart) -> str:
    smpp_host, http_host = config.smpp.host, config.http.host
    rule = "=" * 64
    lines = [
        rule, " smsgw demo account created",
        f"   system_id: {start.system_id}", f"   password:  {start.password}",
        f"   balance:   {config.accounts.demo_balance}",
        f"   SMPP:      {smpp_host}:{start.smpp_port}",
        f"   HTTP API:  http://{http_host}:{start.http_port}/api/v1",
        f"   admin API: http://{http_host}:{start.http_port}/admin/v1"
        f"  ({_admin_reach(config.admin.allow)})",
        f"   admin token: {start.admin_token}", f"                ({start.token_note})",
    ]
    if _loopback(smpp_host) and _loopback(http_host):
        lines += [" listening on this machine only (127.0.0.1); to accept other machines:",
                  f"   {OPEN_UP}"]
    else:
        lines += [f" listening for other machines too (SMPP {smpp_host}, HTTP {http_host})"]
    lines.append(rule)
    return "\n" + "\n".join(lines)


def _loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


def _admin_reach(allow: tuple[str, ...]) -> str:
    if all(ipaddress.ip_network(network).is_loopback for network in allow):
        return "answers this machine only: [admin] allow"
    return "answers " + ", ".join(allow)
