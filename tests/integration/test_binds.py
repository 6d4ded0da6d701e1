"""Binds with the third-party smpplib client: the three bind kinds, S4's refusals with their
exact statuses, the bind limit, IP allow-lists, and the slow-down of repeated failures."""
from __future__ import annotations

import time

import pytest
import smpplib.client
import smpplib.exceptions
from gateway_harness import (
    ESME_RBINDFAIL,
    ESME_RINVPASWD,
    ESME_RINVSYSID,
    Esme,
)

pytestmark = pytest.mark.integration


def bind_status(gw, system_id: str, password: str, kind: str = "transmitter") -> int:
    """Bind with smpplib; the command_status of the bind response (0 when bound)."""
    try:
        esme = Esme(gw, system_id, password, kind)
    except smpplib.exceptions.PDUError as e:
        return e.args[1]
    esme.close()
    return 0


@pytest.mark.parametrize("kind", ["transmitter", "receiver", "transceiver"])
def test_bind_kinds(gateway, new_account, kind):
    system_id, password = new_account()
    with Esme(gateway, system_id, password, kind) as esme:
        resp = esme.bind_resp
        assert resp.command == f"bind_{kind}_resp"
        assert resp.status == 0
        assert resp.system_id == b"smsgw"
        assert resp.sc_interface_version == 0x34  # S2: the sc_interface_version TLV


def test_demo_account_from_the_first_start_banner(gateway):
    assert gateway.password and len(gateway.password) == 8
    with Esme(gateway, "demo", gateway.password, "transceiver") as esme:
        assert esme.bind_resp.status == 0


def test_wrong_password_is_rinvpaswd(gateway, new_account):
    system_id, _ = new_account()
    assert bind_status(gateway, system_id, "wrong") == ESME_RINVPASWD
    # a refused bind answers with an error, then the connection still accepts a new bind
    client = smpplib.client.Client(gateway.host, gateway.port, timeout=5,
                                   allow_unknown_opt_params=True)
    client.connect()
    try:
        with pytest.raises(smpplib.exceptions.PDUError) as refused:
            client.bind_transceiver(system_id=system_id, password="wrong")
        assert refused.value.args[1] == ESME_RINVPASWD
        resp = client.bind_transceiver(system_id=system_id, password="secret1")
        assert resp.status == 0
        client.unbind()
    finally:
        client.disconnect()


def test_unknown_system_id_is_rinvsysid(gateway):
    assert bind_status(gateway, "nosuchaccount", "secret1") == ESME_RINVSYSID


def test_bind_over_max_binds_is_rbindfail(gateway, new_account):
    system_id, password = new_account("--max-binds", "2")
    first = Esme(gateway, system_id, password, "transmitter")
    second = Esme(gateway, system_id, password, "receiver")
    try:
        assert bind_status(gateway, system_id, password, "transceiver") == ESME_RBINDFAIL
    finally:
        second.close()
    # a freed slot can be bound again
    wait_status = time.monotonic() + 5
    while (status := bind_status(gateway, system_id, password)) != 0:
        assert time.monotonic() < wait_status, f"bind still refused with {status:#x}"
        time.sleep(0.05)
    first.close()


def test_ip_allow_list(gateway, new_account):
    outside, password = new_account("--allow-ip", "10.0.0.0/8", "--allow-ip", "192.168.1.0/24")
    assert bind_status(gateway, outside, password) == ESME_RBINDFAIL
    inside, password = new_account("--allow-ip", "10.0.0.0/8", "--allow-ip", "127.0.0.0/8")
    assert bind_status(gateway, inside, password) == 0


def test_repeated_failures_are_slowed_down(start_gateway):
    """S4: after a few failures from one IP the answers come later and later; a good
    bind resets the count."""
    gw = start_gateway()
    system_id, password = gw.add_account("slow", "secret1")
    timings = []
    for _ in range(4):
        started = time.monotonic()
        assert bind_status(gw, system_id, "wrong") == ESME_RINVPASWD
        timings.append(time.monotonic() - started)
    assert max(timings[:3]) < 0.45, timings  # the first three are free
    assert timings[3] >= 0.45, timings  # then 0.5 s, 1 s, ...
    # the slow-down applies to the right password too, then a success forgets the failures
    started = time.monotonic()
    assert bind_status(gw, system_id, password) == 0
    assert time.monotonic() - started >= 0.9
    started = time.monotonic()
    assert bind_status(gw, system_id, "wrong") == ESME_RINVPASWD
    assert time.monotonic() - started < 0.45
