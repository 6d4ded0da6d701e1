"""Helpers for the chained-gateway tests: gateway A routes through an SMPP connector to
gateway B (whose default route is its simulator), configured through A's CLI."""
from __future__ import annotations

import json
from typing import Any

from gateway_harness import Gateway, wait_for


def connector_health(gw: Gateway, name: str) -> dict[str, Any] | None:
    views = json.loads(gw.run_cli("connector", "list", "--json").stdout)
    for view in views:
        if view["name"] == name:
            return view["health"]
    return None


def chain(a: Gateway, b: Gateway, *, name: str = "b", port: int | None = None,
          options: tuple[str, ...] = (), prefix: str = "", account: str = "upstrm",
          b_options: tuple[str, ...] = ("--throughput", "0"), b_balance: str = "1000") -> str:
    """Give B an account for A, add A's connector to B and a route through it; wait until
    A's connector is bound. Returns the account's system_id on B."""
    b.add_account(account, "uppass", b_balance, *b_options)
    a.run_cli("connector", "add", name, "--host", b.host, "--port", str(port or b.port),
              "--system-id", account, "--password", "uppass", "--response-timeout", "5",
              "--reconnect-max", "2", *options)
    a.run_cli("route", "add", prefix, "--connector", name)
    wait_for(lambda: (connector_health(a, name) or {}).get("up"), 20,
             message=f"connector {name} bound")
    return account


def final_states(gw: Gateway) -> dict[str, int]:
    return dict(gw.query_db("SELECT id, state FROM messages"))
