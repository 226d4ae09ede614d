"""``python -m incidents``: serve the Open311 API, manage API keys, simulate a live feed.

    python -m incidents serve --host 127.0.0.1 --port 8311 [--workers 2]
    python -m incidents api-key create --name NAME [--org ORG_ID]   (the key is on the last line; with --org:
                                                   a key of that organisation's own system, /orgs/v1/)
    python -m incidents api-key revoke --name NAME
    python -m incidents simulate --rate 5 [--duration 60] [--seed 42] [--url URL --api-key KEY]
"""
from __future__ import annotations

import argparse

from apps.cli.common import Parser, fail, run
from apps.demo import feed
from apps.cli.serve import serve
from auth.model import Actor
from incidents.errors import IncidentError
from ops import api_keys
from ops.audit import cli_actor
from reports.errors import ReportsError

MAX_DURATION_S = 86400


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m incidents", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    srv = sub.add_parser("serve", help="run the Open311 GeoReport v2 API")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8311)
    srv.add_argument("--workers", type=int, default=1)
    srv.add_argument("--log-level", default="warning")
    keys = sub.add_parser("api-key", help="issue or revoke API keys")
    keys_sub = keys.add_subparsers(dest="action", required=True, parser_class=Parser)
    create = keys_sub.add_parser("create")
    create.add_argument("--name", required=True)
    create.add_argument("--org", type=int, default=None, metavar="ORG_ID",
                        help="an organisation's own system: its work orders only (python -m reports orgs)")
    revoke = keys_sub.add_parser("revoke")
    revoke.add_argument("--name", required=True)
    sim = sub.add_parser("simulate", help="a bounded live feed of realistic reports")
    sim.add_argument("--rate", type=float, required=True, help="reports per second")
    sim.add_argument("--duration", type=float, default=60.0, help=f"seconds (at most {MAX_DURATION_S})")
    sim.add_argument("--seed", type=int, default=None)
    sim.add_argument("--url", default=None, help="post to this Open311 base URL instead of the database")
    sim.add_argument("--api-key", default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: COMMANDS[args.command](args), IncidentError, ReportsError)


def _serve(args: argparse.Namespace) -> int:
    return serve("apps.http.open311:create_app", host=args.host, port=args.port, workers=args.workers,
                 log_level=args.log_level)


def _api_key(args: argparse.Namespace) -> int:
    actor = Actor.cli(cli_actor())
    if args.action == "create":
        key = api_keys.create(actor, args.name, org_id=args.org)
        whose = f" for organisation {args.org}" if args.org is not None else ""
        print(f"API key {args.name!r} created{whose}; it is shown only once, store it now:")
        print(key)
    else:
        print(f"revoked {api_keys.revoke(actor, args.name)} key(s) named {args.name!r}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    if args.rate <= 0 or not 0 < args.duration <= MAX_DURATION_S:
        return fail(f"--rate must be > 0 and --duration in (0, {MAX_DURATION_S}] seconds")
    if args.url and not args.api_key:
        return fail("--url needs --api-key")
    print(feed.run(rate=args.rate, duration_s=args.duration, seed=args.seed, url=args.url, api_key=args.api_key))
    return 0


COMMANDS = {"serve": _serve, "api-key": _api_key, "simulate": _simulate}
