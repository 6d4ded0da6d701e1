"""The store contract for what the HTTP API adds: price tables, API keys, idempotent
accepts, and the message fields an HTTP submit carries. Mixed into each backend's test
class next to StoreContract (it uses that class's `store` and `stores` fixtures)."""
from __future__ import annotations

from decimal import Decimal

import pytest_twisted
from contract import _fails_with, make_account, make_message

from gateway.core.ports import UnknownAccount
from gateway.core.pricing import PriceEntry

__all__ = ["HttpStoreContract"]


class HttpStoreContract:
    # --- messages --------------------------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_callback_url_and_client_ref_are_stored_with_the_message(self, store):
        await store.add_account(make_account())
        m = make_message("1", callback_url="https://example.test/dlr", client_ref="ref-1")
        assert await store.accept("acme", [m], m.price)
        assert await store.get_message("1") == m

    # --- prices ----------------------------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_prices_are_set_changed_listed_and_deleted_bumping_settings_version(
        self, store
    ):
        await store.add_account(make_account())
        version = await store.settings_version()
        await store.set_price("acme", "4917", Decimal("0.08"))
        await store.set_price("acme", "4917", Decimal("0.09"))
        await store.set_price("*", "", Decimal("0.01"))
        assert await store.settings_version() > version
        assert await store.list_prices() == [
            PriceEntry(account="*", prefix="", price=Decimal("0.01")),
            PriceEntry(account="acme", prefix="4917", price=Decimal("0.09"))]
        assert await store.list_prices("acme") == [
            PriceEntry(account="acme", prefix="4917", price=Decimal("0.09"))]
        assert await store.delete_price("acme", "4917") is True
        assert await store.delete_price("acme", "4917") is False
        assert await store.list_prices("acme") == []

    @pytest_twisted.ensureDeferred
    async def test_a_price_for_an_unknown_account_or_negative_is_refused(self, store):
        await _fails_with(store.set_price("ghost", "49", Decimal(1)), UnknownAccount)
        await store.add_account(make_account())
        await _fails_with(store.set_price("acme", "49", Decimal(-1)), ValueError)
        assert await store.list_prices() == []

    # --- API keys --------------------------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_api_key_finds_its_account_until_revoked(self, store):
        await store.add_account(make_account())
        key = await store.add_api_key("acme", "h1", "smsgw_abc", "shop", 10.0)
        assert key.account == "acme" and key.active and key.label == "shop"
        assert (await store.account_for_api_key("h1")).system_id == "acme"
        assert await store.account_for_api_key("h2") is None
        assert await store.revoke_api_key("other", key.id, 11.0) is False
        assert await store.revoke_api_key("acme", key.id, 11.0) is True
        assert await store.revoke_api_key("acme", key.id, 12.0) is False
        assert await store.account_for_api_key("h1") is None
        [listed] = await store.list_api_keys("acme")
        assert listed.revoked_at == 11.0 and not listed.active
        await _fails_with(store.add_api_key("ghost", "h3", "p", "", 1.0), UnknownAccount)
        await _fails_with(store.list_api_keys("ghost"), UnknownAccount)

    # --- idempotent accept -----------------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_accept_once_accepts_once_and_remembers_the_result(self, stores):
        store = stores()
        await store.add_account(make_account(balance="1"))
        first = await store.accept_once("acme", "k", "fp", [make_message("1")],
                                        Decimal("0.05"), '{"r": 1}', 100.0)
        assert first.accepted and first.balance == Decimal("0.95") and first.earlier is None
        again = await store.accept_once("acme", "k", "fp2", [make_message("2")],
                                        Decimal("0.05"), '{"r": 2}', 101.0)
        assert not again.accepted
        assert (again.earlier.fingerprint, again.earlier.result, again.earlier.balance) == (
            "fp", '{"r": 1}', Decimal("0.95"))
        assert await store.get_message("2") is None
        await store.close()
        reopened = stores()  # remembered across a restart
        after = await reopened.accept_once("acme", "k", "fp", [make_message("3")],
                                           Decimal("0.05"), "{}", 102.0)
        assert after.earlier is not None and await reopened.get_message("3") is None
        assert (await reopened.get_account("acme")).balance == Decimal("0.95")

    @pytest_twisted.ensureDeferred
    async def test_accept_once_refused_for_balance_remembers_nothing(self, store):
        await store.add_account(make_account(balance="0.01"))
        refused = await store.accept_once("acme", "k", "fp", [make_message("1")],
                                          Decimal("0.05"), "{}", 1.0)
        assert not refused.accepted and refused.earlier is None
        await store.topup("acme", Decimal(1))
        retried = await store.accept_once("acme", "k", "fp", [make_message("1")],
                                          Decimal("0.05"), "{}", 2.0)
        assert retried.accepted

    @pytest_twisted.ensureDeferred
    async def test_keys_are_per_account_and_expire(self, store):
        await store.add_account(make_account(balance="1"))
        await store.add_account(make_account("other", balance="1"))
        a = await store.accept_once("acme", "k", "fp", [make_message("1")], Decimal("0.05"),
                                    "{}", 1.0)
        b = await store.accept_once("other", "k", "fp", [make_message("2", account="other")],
                                    Decimal("0.05"), "{}", 5.0)
        assert a.accepted and b.accepted
        assert await store.expire_idempotency(3.0) == 1
        c = await store.accept_once("acme", "k", "fp", [make_message("3")], Decimal("0.05"),
                                    "{}", 6.0)
        assert c.accepted
