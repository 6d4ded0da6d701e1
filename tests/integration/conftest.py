"""Fixtures for the integration suite: the real gateway (`twistd -n smsgw`) as a subprocess
on free loopback ports, with a fresh data dir, driven through real sockets.

* `gateway` — one gateway per test module (the module may set GATEWAY_CONFIG, a dict
  written as TOML, and GATEWAY_TLS = True). Tests share it, so each test makes its own
  account (`new_account`) and leaves the process running.
* `start_gateway` — a factory for gateways a single test owns (restart, kill, a config of
  its own); they are stopped after the test.

After every test each gateway that should be running is checked to be alive: bad input
must never crash the process. A failing test gets the gateways' log tails in its report.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# the harness sits next to this file; this folder has no __init__.py
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from gateway_harness import Gateway, make_self_signed, registered_gateways  # noqa: E402


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and "integration" in item.keywords:
        for gw in registered_gateways():
            report.sections.append((f"gateway log ({gw.workdir.name})", gw.log_tail(80)))
    return report


def _build(tmp: Path, config: dict[str, Any] | None, tls: bool) -> Gateway:
    pair = make_self_signed(tmp / "tls") if tls else None
    return Gateway(tmp, config, tls=pair)


@pytest.fixture(scope="module")
def gateway(request, tmp_path_factory) -> Iterator[Gateway]:
    config = getattr(request.module, "GATEWAY_CONFIG", None)
    tls = getattr(request.module, "GATEWAY_TLS", False)
    gw = _build(tmp_path_factory.mktemp("gw"), config, tls)
    try:
        gw.start()
        yield gw
    finally:
        gw.close()


@pytest.fixture
def start_gateway(tmp_path) -> Iterator[Callable[..., Gateway]]:
    made: list[Gateway] = []

    def start(config: dict[str, Any] | None = None, tls: bool = False) -> Gateway:
        gw = _build(tmp_path / f"gw{len(made)}", config, tls)
        made.append(gw)
        return gw.start()

    try:
        yield start
    finally:
        for gw in made:
            gw.close()


@pytest.fixture
def new_account(gateway) -> Callable[..., tuple[str, str]]:
    """Create a fresh account on the module's gateway: new_account(*cli_options,
    balance=..., password=...) -> (system_id, password). Unlimited throughput unless
    the options say otherwise."""

    def make(*options: str, balance: str = "100", password: str = "secret1") -> tuple[str, str]:
        if not any(o.startswith("--throughput") for o in options):
            options = (*options, "--throughput", "0")
        return gateway.add_account(None, password, balance, *options)

    return make


@pytest.fixture(autouse=True)
def _gateways_survive(request) -> Iterator[None]:
    yield
    if "integration" not in request.node.keywords:
        return
    dead = [gw for gw in registered_gateways() if gw.expected_running and not gw.alive]
    for gw in dead:
        gw.expected_running = False  # report once
    assert not dead, "the gateway died during the test:\n" + "\n".join(
        f"exit code {gw.proc.returncode}\n{gw.log_tail(80)}" for gw in dead)
