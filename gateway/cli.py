"""`smsgw`: the admin CLI. Works on the same store as the running gateway (the SQLite file
or the PostgreSQL database of `--database`), through the gateway's own store type on a
reactor of its own; running gateways pick changes up within seconds (balances at once:
they live only in the store)."""
from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import react

from gateway.cli_cdr import add_commands as add_cdr_commands
from gateway.cli_http import CommandError, add_http_commands
from gateway.cli_mo import add_commands as add_mo_commands
from gateway.cli_upstream import UpstreamCliError
from gateway.cli_upstream import add_commands as add_upstream_commands
from gateway.config import Config, ConfigError, load_config
from gateway.core.fanout import with_webhook_secret
from gateway.core.passwords import hash_password
from gateway.core.ports import AccountExists, UnknownAccount
from gateway.model import Account, DeliverVia
from gateway.storage import StoreUnavailable, open_store
from gateway.storage.batched import BatchedStore as Store

MAX_SYSTEM_ID = 15  # SMPP C-octet string of 16
MAX_PASSWORD = 8  # SMPP C-octet string of 9


class CliError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> None:
    """Run one command and exit with its status (2 for an error, with a message)."""
    args = _parser().parse_args(argv)
    react(lambda reactor: ensureDeferred(_run(reactor, args)))


async def _run(reactor, args: argparse.Namespace) -> None:
    try:
        config = load_config(args.config, {"data_dir": args.data_dir,
                                           "database": args.database})
        store = open_store(config.database, config.database_path, reactor)
    except ConfigError as e:
        _fail(e)
    except StoreUnavailable as e:
        _fail(ConfigError("database", str(e)))
    try:
        status = await args.handler(store, config, args)
    except (CliError, CommandError, UpstreamCliError) as e:
        _fail(e)
    finally:
        await store.close()
    if status:
        raise SystemExit(status)


def _fail(error: Exception) -> NoReturn:
    print(f"smsgw: {error}", file=sys.stderr)
    raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsgw", description="Administer an smsgw gateway.")
    parser.add_argument("--config", "-c", help="TOML configuration (same as twistd smsgw)")
    parser.add_argument("--data-dir", "-d", help="data directory (default ./smsgw-data)")
    parser.add_argument("--database", metavar="URL",
                        help="SQLite file or postgresql://USER@HOST:PORT/DBNAME "
                             "(same as twistd smsgw; default <data-dir>/smsgw.db)")
    top = parser.add_subparsers(dest="area", required=True)
    account = top.add_parser("account", help="customer accounts").add_subparsers(
        dest="command", required=True)

    add = account.add_parser("add", help="create an account")
    add.add_argument("system_id")
    add.add_argument("--password", required=True)
    add.add_argument("--balance", type=_decimal, default=Decimal(0))
    _limit_options(add)
    add.set_defaults(handler=_add)

    listing = account.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    show = account.add_parser("show", help="show one account")
    show.add_argument("system_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)

    topup = account.add_parser("topup", help="add to an account's balance (negative corrects)")
    topup.add_argument("system_id")
    topup.add_argument("amount", type=_decimal)
    topup.set_defaults(handler=_topup)

    change = account.add_parser("set", help="change an account's settings")
    change.add_argument("system_id")
    change.add_argument("--password")
    _limit_options(change)
    change.add_argument("--clear-allow-ip", action="store_true",
                        help="remove the IP allow-list (any address may bind)")
    state = change.add_mutually_exclusive_group()
    state.add_argument("--enable", dest="enabled", action="store_const", const=True)
    state.add_argument("--disable", dest="enabled", action="store_const", const=False)
    change.set_defaults(handler=_set)
    add_http_commands(top)
    add_upstream_commands(top)
    add_mo_commands(top)
    add_cdr_commands(top)
    return parser


def _limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-binds", type=_positive_int, help="simultaneous binds (default 2)")
    parser.add_argument("--throughput", type=_non_negative_float,
                        help="submit_sm per second per session, 0 = unlimited (default 5)")
    parser.add_argument("--window", type=_positive_int,
                        help="unanswered deliver_sm per session (default 10)")
    parser.add_argument("--allow-ip", action="append", type=_cidr, metavar="CIDR",
                        help="allow binds from this network (repeatable; default: any)")
    parser.add_argument("--webhook-url", type=_webhook_url, metavar="URL",
                        help="where receipts and MO are POSTed ('' removes it)")
    parser.add_argument("--webhook-secret", type=_webhook_secret, metavar="SECRET",
                        help="HMAC-SHA256 key of the signatures (default: generated)")
    parser.add_argument("--deliver-via", choices=[v.value for v in DeliverVia],
                        help="auto (webhook when a URL is set, else SMPP), smpp, or both")


async def _add(store: Store, config: Config, args) -> int:
    _check_credentials(args.system_id, args.password)
    defaults = config.accounts
    account = Account(
        system_id=args.system_id,
        password_hash=hash_password(args.password),
        max_binds=args.max_binds or defaults.max_binds,
        throughput=defaults.throughput if args.throughput is None else args.throughput,
        window=args.window or defaults.window,
        allow_ips=tuple(args.allow_ip or ()),
        balance=args.balance,  # inserted with the account: a bad amount writes nothing
        **_webhook_changes(args),
    )
    if args.balance < 0:
        raise CliError("--balance must not be negative")
    try:
        await store.add_account(with_webhook_secret(account))
    except AccountExists:
        raise CliError(f"account {args.system_id!r} already exists") from None
    except ValueError as e:
        raise CliError(str(e)) from None
    print(f"account {args.system_id} created")
    _print_account(await store.get_account(args.system_id), as_json=False)
    return 0


async def _list(store: Store, config: Config, args) -> int:
    accounts = await store.list_accounts()
    if args.json:
        print(json.dumps([_as_dict(a) for a in accounts], indent=2))
        return 0
    print(f"{'system_id':<16}{'balance':>14}  {'binds':>5}  {'tput/s':>7}  {'window':>6}  state")
    for a in accounts:
        print(f"{a.system_id:<16}{a.balance:>14}  {a.max_binds:>5}  {_tput(a):>7}  "
              f"{a.window:>6}  {'enabled' if a.enabled else 'disabled'}")
    return 0


async def _show(store: Store, config: Config, args) -> int:
    _print_account(await _existing(store, args.system_id), as_json=args.json)
    return 0


async def _topup(store: Store, config: Config, args) -> int:
    try:
        balance = await store.topup(args.system_id, args.amount)
    except UnknownAccount:
        raise CliError(f"no account {args.system_id!r}") from None
    except ValueError as e:  # more decimals than the store keeps
        raise CliError(str(e)) from None
    print(f"balance of {args.system_id}: {balance}")
    return 0


async def _set(store: Store, config: Config, args) -> int:
    account = await _existing(store, args.system_id)
    changes: dict = {}
    if args.password is not None:
        _check_credentials(args.system_id, args.password)
        changes["password_hash"] = hash_password(args.password)
    for name in ("max_binds", "throughput", "window", "enabled"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.clear_allow_ip:
        changes["allow_ips"] = ()
    if args.allow_ip:
        changes["allow_ips"] = tuple(args.allow_ip)
    changes.update(_webhook_changes(args))
    if not changes:
        raise CliError("nothing to change: give at least one option")
    await store.update_account(with_webhook_secret(dataclasses.replace(account, **changes)))
    print(f"account {args.system_id} updated")
    _print_account(await store.get_account(args.system_id), as_json=False)
    return 0


def _webhook_changes(args) -> dict:
    changes: dict = {}
    if args.webhook_url is not None:
        changes["webhook_url"] = args.webhook_url
    if args.webhook_secret is not None:
        changes["webhook_secret"] = args.webhook_secret
    if args.deliver_via is not None:
        changes["deliver_via"] = DeliverVia(args.deliver_via)
    return changes


async def _existing(store: Store, system_id: str) -> Account:
    account = await store.get_account(system_id)
    if account is None:
        raise CliError(f"no account {system_id!r}")
    return account


def _print_account(account: Account, *, as_json: bool) -> None:
    data = _as_dict(account)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        print(f"  {key:<14} {value}")


def _as_dict(account: Account) -> dict:
    return {
        "system_id": account.system_id,
        "balance": str(account.balance),
        "max_binds": account.max_binds,
        "throughput": account.throughput,
        "window": account.window,
        "allow_ips": list(account.allow_ips),
        "enabled": account.enabled,
        "webhook_url": account.webhook_url,
        "webhook_secret": account.webhook_secret,
        "deliver_via": account.deliver_via.value,
    }


def _tput(account: Account) -> str:
    return "unlim" if account.throughput == 0 else f"{account.throughput:g}"


def _check_credentials(system_id: str, password: str) -> None:
    if not 1 <= len(system_id) <= MAX_SYSTEM_ID or not system_id.isascii():
        raise CliError(f"system_id must be 1-{MAX_SYSTEM_ID} ASCII characters")
    if not 1 <= len(password) <= MAX_PASSWORD or not password.isascii():
        raise CliError(f"password must be 1-{MAX_PASSWORD} ASCII characters (an SMPP limit)")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _webhook_url(text: str) -> str:
    if text and (not text.startswith(("http://", "https://")) or any(c.isspace() for c in text)
                 or len(text) > 2048):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL")
    return text


def _webhook_secret(text: str) -> str:
    if not 16 <= len(text) <= 128 or not all(0x21 <= ord(c) <= 0x7E for c in text):
        raise argparse.ArgumentTypeError("must be 16-128 printable ASCII characters")
    return text


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address or CIDR network") from None


if __name__ == "__main__":
    main()
