"""Password guessing against the real gateway over loopback: parallel wrong binds from one
address get later and later turns (the ones too far away refused at once), a customer
binding from another address meanwhile is answered at once, and the same limiter holds for
HTTP Basic from the guessing address. The [auth] delays are scaled down so the test takes
about two seconds of real time; tests/core and tests/transport prove the full-size policy
on a task.Clock."""
from __future__ import annotations

import base64
import threading
import time

import pytest
from gateway_harness import ESME_RBINDFAIL, ESME_RINVPASWD, ESME_ROK, HttpClient, RawClient

from gateway.smpp import pdu as P

pytestmark = pytest.mark.integration

# 3 free attempts, then turns 0.2, 0.6, 1.0, 1.4, 1.8 s from now; beyond 2 s: refused
AUTH = {"free_attempts": 3, "base_delay": 0.2, "max_delay": 0.4, "max_wait": 2.0}
GUESSES = 10


def test_parallel_wrong_binds_wait_their_turns_while_another_address_binds_at_once(
        start_gateway):
    gw = start_gateway({"auth": AUTH})
    system_id, password = gw.add_account("guessed", "right12", "100", "--max-binds", "5")
    attackers = [RawClient(gw.host, gw.port, timeout=10) for _ in range(GUESSES)]
    customer = RawClient(gw.host, gw.port, timeout=10, source="127.0.0.2")
    try:
        sent = time.monotonic()
        for i, client in enumerate(attackers):
            client.send(P.BindTransmitter(system_id=system_id, password=f"wrong{i}"))
        answers = []

        def read(client: RawClient) -> None:  # each in its own thread: arrival times
            response = client.expect(P.BindTransmitterResp)
            answers.append((time.monotonic() - sent, response.command_status))

        readers = [threading.Thread(target=read, args=(c,)) for c in attackers]
        for reader in readers:
            reader.start()
        customer_sent = time.monotonic()
        bound = customer.request(P.BindTransceiver(system_id=system_id, password=password))
        customer_wait = time.monotonic() - customer_sent
        for reader in readers:
            reader.join(15)
        statuses = sorted(status for _, status in answers)
        assert statuses == [ESME_RBINDFAIL] * 2 + [ESME_RINVPASWD] * 8, answers
        checked = sorted(t for t, status in answers if status == ESME_RINVPASWD)
        assert checked[-1] >= 1.8  # the last turn: never sooner
        assert max(t for t, status in answers if status == ESME_RBINDFAIL) < checked[3]
        assert bound.command_status == ESME_ROK
        assert customer_wait < checked[-1]  # not held up by the attack on its account
        # the same limiter for HTTP Basic: the guessing address waits its turn there too
        wrong = "Basic " + base64.b64encode(f"{system_id}:wrong-http".encode()).decode()
        http = HttpClient(gw, source="127.0.0.1")
        asked = time.monotonic()
        status, body, _ = http.call("GET", "/api/v1/balance", headers={"authorization": wrong})
        assert status == 401 and time.monotonic() - asked >= 0.35, body
        http.close()
    finally:
        for client in [*attackers, customer]:
            client.close()
