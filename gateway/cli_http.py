"""`smsgw apikey ...` and `smsgw price ...`: the HTTP API's keys and the price tables, on
the same store as the running gateway (which reloads them within seconds: each change
bumps the store's settings_version)."""
from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal, InvalidOperation

from gateway.config import Config
from gateway.core.apikeys import hash_api_key, key_prefix, new_api_key
from gateway.core.ports import UnknownAccount
from gateway.core.pricing import ALL_ACCOUNTS, PriceEntry, Pricing, normalize_prefix
from gateway.storage.batched import BatchedStore as Store

__all__ = ["CommandError", "add_http_commands"]


class CommandError(Exception):
    """Shown as `smsgw: <message>`, exit status 2 (see cli.main)."""


def add_http_commands(top: argparse._SubParsersAction) -> None:
    keys = top.add_parser("apikey", help="bearer API keys for the HTTP API").add_subparsers(
        dest="command", required=True)
    issue = keys.add_parser("issue", help="issue a key (printed once, stored hashed)")
    issue.add_argument("system_id")
    issue.add_argument("--label", default="", help="a note to tell keys apart")
    issue.set_defaults(handler=_issue)
    listing = keys.add_parser("list", help="list an account's keys (never the keys themselves)")
    listing.add_argument("system_id")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list_keys)
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("system_id")
    revoke.add_argument("key_id", type=int)
    revoke.set_defaults(handler=_revoke)

    prices = top.add_parser("price", help="price per SMS part by destination prefix")
    commands = prices.add_subparsers(dest="command", required=True)
    change = commands.add_parser("set", help="set the price of one part for a prefix")
    _table_options(change)
    change.add_argument("price", type=_price)
    change.set_defaults(handler=_set_price)
    shown = commands.add_parser("list", help="list price tables")
    shown.add_argument("--account", help="only this table ('*': the shared one)")
    shown.add_argument("--json", action="store_true")
    shown.set_defaults(handler=_list_prices)
    delete = commands.add_parser("delete", help="remove one price")
    _table_options(delete)
    delete.set_defaults(handler=_delete_price)


def _table_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", default=ALL_ACCOUNTS,
                        help="system_id whose table to change (default '*': every account)")
    parser.add_argument("--prefix", default="", type=_prefix,
                        help="destination prefix, digits (default '': any destination)")


async def _issue(store: Store, config: Config, args) -> int:
    key = new_api_key()
    try:
        stored = await store.add_api_key(args.system_id, hash_api_key(key), key_prefix(key),
                                         args.label, time.time())
    except UnknownAccount:
        raise CommandError(f"no account {args.system_id!r}") from None
    print(f"API key {stored.id} for {args.system_id} (shown only now, keep it safe):")
    print(key)
    return 0


async def _list_keys(store: Store, config: Config, args) -> int:
    try:
        keys = await store.list_api_keys(args.system_id)
    except UnknownAccount:
        raise CommandError(f"no account {args.system_id!r}") from None
    rows = [{"id": k.id, "prefix": k.prefix, "label": k.label, "created_at": k.created_at,
             "revoked_at": k.revoked_at, "active": k.active} for k in keys]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':>5}  {'prefix':<14}{'state':<9}label")
    for row in rows:
        state = "active" if row["active"] else "revoked"
        print(f"{row['id']:>5}  {row['prefix'] + '…':<14}{state:<9}{row['label']}")
    return 0


async def _revoke(store: Store, config: Config, args) -> int:
    if not await store.revoke_api_key(args.system_id, args.key_id, time.time()):
        raise CommandError(f"{args.system_id!r} has no active key {args.key_id}")
    print(f"API key {args.key_id} of {args.system_id} revoked")
    return 0


async def _set_price(store: Store, config: Config, args) -> int:
    try:
        await store.set_price(args.account, args.prefix, args.price)
    except UnknownAccount:
        raise CommandError(f"no account {args.account!r}") from None
    except ValueError as e:
        raise CommandError(str(e)) from None
    print(f"price for {_describe(args.account, args.prefix)}: {args.price} per part")
    return 0


async def _list_prices(store: Store, config: Config, args) -> int:
    if args.json:
        entries = await store.list_prices(args.account)
        print(json.dumps([_price_row(e) for e in entries], indent=2))
        return 0
    # what the gateway charges, decided by the charging path's own rule (Pricing)
    every = await store.list_prices(None)
    pricing = Pricing(price_per_part=config.price_per_part, entries=every)
    account = args.account or ALL_ACCOUNTS
    if account == ALL_ACCOUNTS:
        shown = [e for e in every if args.account is None or e.account == ALL_ACCOUNTS]
    else:
        print(f"prices charged to {account}: its own table first, then the shared one "
              "('*'), less the shared entries its own table overrides")
        shown = [e for e in every if e.account == account] + [
            e for e in every
            if e.account == ALL_ACCOUNTS and pricing.charged_entry(account, e.prefix) == e]
    print(f"{'account':<16}{'prefix':<22}{'price':>12}")
    for row in map(_price_row, shown):
        print(f"{row['account']:<16}{row['prefix'] or '(any)':<22}{row['price']:>12}")
    fallback = pricing.charged_entry(account, "")  # a destination no other prefix matches
    if fallback is None:
        print(f"otherwise: {config.price_per_part} per part (price_per_part)")
    else:
        table = "the shared table '*'" if fallback.account == ALL_ACCOUNTS else (
            f"{fallback.account}'s table")
        print(f"otherwise: {fallback.price} per part ({table}, any destination)")
    return 0


def _price_row(entry: PriceEntry) -> dict[str, str]:
    return {"account": entry.account, "prefix": entry.prefix, "price": str(entry.price)}


async def _delete_price(store: Store, config: Config, args) -> int:
    if not await store.delete_price(args.account, args.prefix):
        raise CommandError(f"no price for {_describe(args.account, args.prefix)}")
    print(f"price for {_describe(args.account, args.prefix)} deleted")
    return 0


def _describe(account: str, prefix: str) -> str:
    who = "every account" if account == ALL_ACCOUNTS else account
    return f"{who}, destinations {prefix or '(any)'}{'…' if prefix else ''}"


def _price(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError("must be a number, 0 or more")
    return value


def _prefix(text: str) -> str:
    try:
        return normalize_prefix(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
