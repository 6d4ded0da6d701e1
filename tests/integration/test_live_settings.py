"""H6 / the CLI against a running gateway: `smsgw account set` and `topup` take effect
without a restart — on live sessions within the settings poll (a few seconds), on new
binds and on balances at once."""
from __future__ import annotations

import time

import pytest
from gateway_harness import (
    ESME_RBINDFAIL,
    ESME_RINVBALANCE,
    ESME_RINVPASWD,
    ESME_RINVSYSID,
    ESME_ROK,
    ESME_RTHROTTLED,
    Gateway,
    P,
    RawClient,
    raw_client,
    submit_sm,
)

from gateway.smpp.codec import encode

pytestmark = pytest.mark.integration

APPLY_TIMEOUT = 10.0  # the gateway polls the settings every 2 s


def burst(client: RawClient, count: int) -> list[int]:
    """`count` pipelined submits; their statuses."""
    first = next(client.sequence)
    sequences = range(first, first + count)
    for _ in range(count - 1):
        next(client.sequence)
    client.send_bytes(b"".join(encode(submit_sm(body=b"burst", registered_delivery=0,
                                                sequence_number=s)) for s in sequences))
    answers = {}
    while len(answers) < count:
        pdu = client.expect(P.SubmitSmResp)
        answers[pdu.sequence_number] = pdu.command_status
    return [answers[s] for s in sequences]


def bind_status(gw, system_id: str, password: str, kind: str = "transmitter") -> int:
    with raw_client(gw) as client:
        return client.bind(system_id, password, kind).command_status


def test_throughput_change_reaches_a_live_session(gateway, new_account):
    system_id, password = new_account()  # unlimited
    with raw_client(gateway) as client:
        assert client.bind(system_id, password, "transmitter").command_status == ESME_ROK
        assert set(burst(client, 20)) == {ESME_ROK}
        gateway.run_cli("account", "set", system_id, "--throughput", "2")
        deadline = time.monotonic() + APPLY_TIMEOUT
        while ESME_RTHROTTLED not in burst(client, 10):
            assert time.monotonic() < deadline, "the new throughput never applied"
            time.sleep(0.2)
        # now 2 per second with a burst of 2 (the bucket was just emptied)
        assert burst(client, 10).count(ESME_ROK) <= 2
        gateway.run_cli("account", "set", system_id, "--throughput", "0")
        deadline = time.monotonic() + APPLY_TIMEOUT
        while set(burst(client, 10)) != {ESME_ROK}:
            assert time.monotonic() < deadline, "unlimited throughput never applied"
            time.sleep(0.2)


def test_disable_unbinds_live_sessions_and_refuses_new_binds(gateway, new_account):
    system_id, password = new_account()
    with raw_client(gateway) as client:
        assert client.bind(system_id, password, "transceiver").command_status == ESME_ROK
        gateway.run_cli("account", "set", system_id, "--disable")
        assert bind_status(gateway, system_id, password) == ESME_RINVSYSID  # at once
        unbind = client.expect(P.Unbind, timeout=APPLY_TIMEOUT)  # the gateway unbinds us
        client.send(P.UnbindResp(sequence_number=unbind.sequence_number))
        client.wait_closed(5)
    gateway.run_cli("account", "set", system_id, "--enable")
    assert bind_status(gateway, system_id, password) == ESME_ROK


def test_topup_makes_a_refused_submit_pass_at_once(gateway, new_account):
    system_id, password = new_account(balance="0")
    with raw_client(gateway) as client:
        assert client.bind(system_id, password, "transmitter").command_status == ESME_ROK
        assert client.submit(registered_delivery=0).command_status == ESME_RINVBALANCE
        gateway.run_cli("account", "topup", system_id, "1")
        assert client.submit(registered_delivery=0).command_status == ESME_ROK
    assert str(gateway.balance(system_id)) == "0.950000"


def test_bind_settings_apply_to_new_binds_at_once(gateway, new_account):
    system_id, password = new_account()
    with raw_client(gateway) as first:
        assert first.bind(system_id, password, "transmitter").command_status == ESME_ROK
        gateway.run_cli("account", "set", system_id, "--max-binds", "1")
        assert bind_status(gateway, system_id, password) == ESME_RBINDFAIL
    gateway.run_cli("account", "set", system_id, "--allow-ip", "10.0.0.0/8")
    assert bind_status(gateway, system_id, password) == ESME_RBINDFAIL
    gateway.run_cli("account", "set", system_id, "--clear-allow-ip", "--password", "newpass")
    assert bind_status(gateway, system_id, password) == ESME_RINVPASWD
    assert bind_status(gateway, system_id, "newpass") == ESME_ROK


def test_a_change_right_after_start_is_not_missed(tmp_path):
    """Regression: the settings watcher used to take its baseline at its first poll, 2 s
    after start, so a change made before that never reached live sessions."""
    gw = Gateway(tmp_path / "early")
    try:
        system_id, password = gw.add_account("early", "secret1", "100", "--throughput", "0")
        gw.start()  # the store already has an account: no demo account, no banner
        with raw_client(gw) as client:
            assert client.bind(system_id, password, "transmitter").command_status == ESME_ROK
            gw.run_cli("account", "set", system_id, "--throughput", "1")
            deadline = time.monotonic() + APPLY_TIMEOUT
            while ESME_RTHROTTLED not in burst(client, 5):
                assert time.monotonic() < deadline, "a change made just after start was lost"
                time.sleep(0.2)
    finally:
        gw.close()
