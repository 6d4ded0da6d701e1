"""The demo account a first start creates, so a fresh install works end to end at once."""
from __future__ import annotations

import secrets
import string

from twisted.logger import Logger

from gateway.core.passwords import hash_password
from gateway.core.ports import AccountExists, Store
from gateway.model import Account

__all__ = ["DEMO_SYSTEM_ID", "ensure_demo_account"]

log = Logger()

DEMO_SYSTEM_ID = "demo"
_ALPHABET = string.ascii_letters + string.digits


async def ensure_demo_account(store: Store, *, balance, max_binds: int, throughput: float,
                              window: int) -> str | None:
    """On a first start (no account at all) create the demo account and return its
    password (to print once); None when the store already has accounts."""
    if await store.list_accounts():
        return None
    password = "".join(secrets.choice(_ALPHABET) for _ in range(8))  # SMPP allows 8
    try:
        await store.add_account(Account(
            system_id=DEMO_SYSTEM_ID, password_hash=hash_password(password), balance=balance,
            max_binds=max_binds, throughput=throughput, window=window))
    except AccountExists:  # another node, starting at the same moment, made it
        return None
    log.info("demo account {system_id!r} created", system_id=DEMO_SYSTEM_ID)
    return password
