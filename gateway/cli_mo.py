"""`smsgw number ...` and `smsgw webhook ...`: the numbers accounts own for MO, and the
webhook outbox (pending items, dead letters, replay), on the same store as the running
gateway. Number changes bump the settings_version (the gateway reloads them within
seconds); a replayed dead letter is due at once and the gateway's outbox poll sends it."""
from __future__ import annotations

import argparse
import json
import time

from gateway.cli_http import CommandError
from gateway.config import Config
from gateway.core.events import iso_time
from gateway.core.numbers import OwnedNumber
from gateway.core.ports import NumberTaken, UnknownAccount
from gateway.http.admin_mo import webhook_json
from gateway.storage.batched import BatchedStore as Store

__all__ = ["add_commands"]


def add_commands(top: argparse._SubParsersAction) -> None:
    numbers = top.add_parser("number", help="numbers (and keywords) accounts own for MO")
    commands = numbers.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="give an account a number (or number + keyword)")
    add.add_argument("number", help="long number or short code; '+' and '00' are dropped")
    add.add_argument("--account", required=True)
    add.add_argument("--keyword", default="",
                     help="only MO whose first word this is (shared short codes)")
    add.set_defaults(handler=_add_number)
    listing = commands.add_parser("list", help="list numbers")
    listing.add_argument("--account")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list_numbers)
    remove = commands.add_parser("remove", help="take a number (or number + keyword) back")
    remove.add_argument("number")
    remove.add_argument("--keyword", default="")
    remove.set_defaults(handler=_remove_number)

    hooks = top.add_parser("webhook", help="the webhook outbox: pending, dead letters, replay")
    commands = hooks.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list webhook items waiting or given up")
    state = listing.add_mutually_exclusive_group()
    state.add_argument("--dead", action="store_const", const=True, dest="dead",
                       help="only dead letters")
    state.add_argument("--pending", action="store_const", const=False, dest="dead",
                       help="only items still retried")
    listing.add_argument("--account")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list_webhooks)
    replay = commands.add_parser("replay", help="send dead letters again (by id, account, "
                                                "or --all)")
    replay.add_argument("ids", nargs="*", type=int, metavar="ID")
    replay.add_argument("--account")
    replay.add_argument("--all", action="store_true", help="every dead letter")
    replay.set_defaults(handler=_replay)
    stats = commands.add_parser("stats", help="how many items are pending and dead")
    stats.set_defaults(handler=_stats)


async def _add_number(store: Store, config: Config, args) -> int:
    try:
        await store.add_number(OwnedNumber(number=args.number, account=args.account,
                                  keyword=args.keyword))
    except NumberTaken:
        keyword = f" for keyword {args.keyword.upper()}" if args.keyword else ""
        raise CommandError(f"{args.number} is owned already{keyword}") from None
    except UnknownAccount:
        raise CommandError(f"no account {args.account!r}") from None
    except ValueError as e:
        raise CommandError(str(e)) from None
    keyword = f" (keyword {args.keyword.upper()})" if args.keyword else ""
    print(f"{args.number}{keyword} now belongs to {args.account}")
    return 0


async def _list_numbers(store: Store, config: Config, args) -> int:
    entries = await store.list_numbers(args.account)
    if args.json:
        print(json.dumps([{"number": e.number, "keyword": e.keyword, "account": e.account}
                          for e in entries], indent=2))
        return 0
    print(f"{'number':<22}{'keyword':<21}account")
    for e in entries:
        print(f"{e.number:<22}{e.keyword or '*':<21}{e.account}")
    return 0


async def _remove_number(store: Store, config: Config, args) -> int:
    try:
        removed = await store.remove_number(args.number, args.keyword)
    except ValueError as e:
        raise CommandError(str(e)) from None
    if not removed:
        raise CommandError(f"nobody owns {args.number}"
                           + (f" with keyword {args.keyword!r}" if args.keyword else ""))
    print(f"{args.number} removed")
    return 0


async def _list_webhooks(store: Store, config: Config, args) -> int:
    items = await store.list_webhooks(dead=args.dead, account=args.account, limit=args.limit)
    if args.json:
        print(json.dumps([webhook_json(i) for i in items], indent=2))
        return 0
    print(f"{'id':>8}  {'account':<16}{'state':<8}{'tries':>5}  {'next / dead at':<25}"
          "last error / url")
    for item in items:
        state = "dead" if item.dead_at is not None else "pending"
        when = iso_time(item.dead_at if item.dead_at is not None else item.next_attempt_at)
        print(f"{item.id:>8}  {item.account:<16}{state:<8}{item.attempts:>5}  {when:<25}"
              f"{item.last_error or '-'}  {item.url}")
    return 0


async def _replay(store: Store, config: Config, args) -> int:
    if not (args.ids or args.account or args.all):
        raise CommandError("say which dead letters: IDs, --account, or --all")
    count = await store.replay_webhooks(ids=args.ids or None, account=args.account, now=time.time())
    print(f"{count} dead letter{'s' if count != 1 else ''} queued again")
    return 0


async def _stats(store: Store, config: Config, args) -> int:
    counts = await store.webhook_counts()
    print(f"pending: {counts['pending']}\ndead:    {counts['dead']}")
    return 0

