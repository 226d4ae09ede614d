"""``python -m orgs``: organisations' webhooks — register an endpoint, list, delete, deliver (docs/webhooks.md).

    python -m orgs webhook set ORG_ID URL      (the signing secret: one line on stdin, never an argument)
    python -m orgs webhook list [--json]       (each organisation's URL, its secret's hint, pending and failing events)
    python -m orgs webhook delete ORG_ID       (its pending events are dropped)
    python -m orgs deliver [--once] [--json]   (post the due events, signed, retried with backoff until a 2xx)

Bad input (a URL that is not http(s) or names a loopback/private address, an empty secret, an unknown
organisation) is one line on stderr and exit code 2; nothing is written.
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys

from apps.cli.common import Parser, fail, run
from auth.errors import AuthError
from auth.model import Actor
from ops import webhooks
from ops.audit import cli_actor
from orgs.errors import WebhookError
from reports.errors import ReportsError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m orgs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    hook = sub.add_parser("webhook", help="register, list or delete an organisation's webhook")
    act = hook.add_subparsers(dest="action", required=True, parser_class=Parser)
    put = act.add_parser("set", help="register or replace ORG_ID's webhook (the secret from stdin)")
    put.add_argument("org_id", type=int, metavar="ORG_ID")
    put.add_argument("url", metavar="URL")
    put.add_argument("more", nargs="*", help=argparse.SUPPRESS)   # a secret typed here is refused, never echoed
    listing = act.add_parser("list", help="every organisation's webhook")
    listing.add_argument("--json", action="store_true")
    delete = act.add_parser("delete", help="delete ORG_ID's webhook")
    delete.add_argument("org_id", type=int, metavar="ORG_ID")
    deliver = sub.add_parser("deliver", help="post the due events to the organisations' webhooks")
    deliver.add_argument("--once", action="store_true", help="one pass over what is due, then exit")
    deliver.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    body = _deliver if args.command == "deliver" else ACTIONS[args.action]
    return run(lambda: body(args), WebhookError, ReportsError, AuthError)


def _secret() -> str:
    """The signing secret: one line on stdin (a prompt without echo when stdin is a terminal)."""
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        return getpass.getpass("signing secret: ")
    return sys.stdin.readline().rstrip("\r\n")


def _set(args: argparse.Namespace) -> int:
    if args.more:
        return fail("the signing secret is read from stdin, never from the command line (it would stay in the "
                    "shell's history and the process list); nothing was written")
    secret = _secret()
    hook = webhooks.set_webhook(Actor.cli(cli_actor()), args.org_id, args.url, secret)
    print(f"webhook of organisation {args.org_id}: {hook['url']} (secret {hook['secret_hint']}…, sealed)")
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = webhooks.webhooks(Actor.cli(cli_actor()))
    if args.json:
        print(json.dumps(rows, default=str, ensure_ascii=False))
        return 0
    if not rows:
        print("no webhooks (python -m orgs webhook set ORG_ID URL)")
    for r in rows:
        nxt = f", next try {r['next_attempt_at']:%Y-%m-%d %H:%M:%S%z}" if r["next_attempt_at"] else ""
        print(f"{r['org_id']}\t{r['org_name']}\t{r['url']}\tsecret {r['secret_hint']}…\tpending {r['pending']} "
              f"(failing {r['failing']}), delivered {r['delivered']}{nxt}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    dropped = webhooks.delete_webhook(Actor.cli(cli_actor()), args.org_id)
    print(f"webhook of organisation {args.org_id} deleted; {dropped} pending event(s) dropped")
    return 0


def _deliver(args: argparse.Namespace) -> int:
    if args.once:
        r = webhooks.deliver_once()
        print(json.dumps(r.as_dict()) if args.json else
              f"delivered {r.delivered}, retry later {r.retried}, dropped {r.dropped}, "
              f"organisations failing {r.skipped_orgs}")
        return 0
    print("orgs deliver: posting work-order events to the organisations' webhooks (Ctrl-C stops)", flush=True)
    try:
        webhooks.deliver_forever(log=lambda m: print(m, flush=True))
    except KeyboardInterrupt:
        return 0
    return 0


ACTIONS = {"set": _set, "list": _list, "delete": _delete}
