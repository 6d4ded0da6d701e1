"""Router.messages_final, the receipts of one connector tick: each receipt is claimed as its
own account's delivery says, asked once per account of the tick."""
from __future__ import annotations

from decimal import Decimal

import pytest
import pytest_twisted
from test_operations import NOW, Core

from gateway.core.fanout import Claims
from gateway.model import Account, Address, MessageState, SubmitRequest


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path)
    yield c
    c.router.stop()
    pytest_twisted.blockon(c.store.close())


@pytest_twisted.ensureDeferred
async def test_a_tick_s_receipts_are_claimed_as_each_one_s_account_says(core, monkeypatch):
    beta = Account(system_id="beta", password_hash="x", balance=Decimal(10))
    for account in (core.account, beta):
        await core.store.add_account(account)

    def request(destination: str) -> SubmitRequest:
        return SubmitRequest(source=Address(ton=1, npi=1, addr="4915100000001"),
                             destination=Address(ton=1, npi=1, addr=destination),
                             body=b"hello", registered_delivery=1)

    messages = [await core.router.submit(core.account, request("4917600000001")),
                await core.router.submit(beta, request("4917600000002")),
                await core.router.submit(core.account, request("4917600000003"))]
    asked = []

    def claims(account: str) -> Claims:
        asked.append(account)
        return Claims(smpp=7 if account == "acme" else None, webhook=None)

    finished = []
    finish_each = core.store.finish_each

    def spy(calls):
        finished.extend(calls)
        return finish_each(calls)

    monkeypatch.setattr(core.router._delivery, "claims", claims)
    monkeypatch.setattr(core.store, "finish_each", spy)
    # the clock has not moved: the simulator has not reported these itself
    await core.router.messages_final(
        [(m, MessageState.DELIVERED, 0, NOW + 1) for m in messages])
    assert asked == ["acme", "beta"]
    assert [(call[0], [item.claimed_by for item in call[4]]) for call in finished] == [
        (messages[0].id, [7]), (messages[1].id, [None]), (messages[2].id, [7])]
