"""``python -m incidents``: serve the Open311 API, manage API keys, simulate a live feed.

    python -m incidents serve --host 127.0.0.1 --port 8311 [--workers 2]
    python -m incidents api-key create --name NAME     (the key is on the last line)
    python -m incidents api-key revoke --name NAME
    python -m incidents simulate --rate 5 [--duration 60] [--seed 42] [--url URL --api-key KEY]
"""
from __future__ import annotations

import argparse
import sys

from incidents.errors import IncidentError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m incidents", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the Open311 GeoReport v2 API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8311)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="warning")
    keys = sub.add_parser("api-key", help="issue or revoke API keys")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create")
    create.add_argument("--name", required=True)
    revoke = keys_sub.add_parser("revoke")
    revoke.add_argument("--name", required=True)
    sim = sub.add_parser("simulate", help="a bounded live feed of realistic reports")
    sim.add_argument("--rate", type=float, required=True, help="reports per second")
    sim.add_argument("--duration", type=float, default=60.0, help="seconds (at most 86400)")
    sim.add_argument("--seed", type=int, default=None)
    sim.add_argument("--url", default=None, help="post to this Open311 base URL instead of the database")
    sim.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)

    try:
        if args.command == "serve":
            import uvicorn

            uvicorn.run("incidents.api:create_app", factory=True, host=args.host, port=args.port,
                        workers=args.workers, log_level=args.log_level, access_log=False,
                        timeout_keep_alive=30)
            return 0
        if args.command == "api-key":
            from auth.model import Actor
            from ops import api_keys
            from ops.audit import cli_actor

            actor = Actor.cli(cli_actor())
            if args.action == "create":
                key = api_keys.create(actor, args.name)
                print(f"API key {args.name!r} created; it is shown only once, store it now:")
                print(key)
            else:
                print(f"revoked {api_keys.revoke(actor, args.name)} key(s) named {args.name!r}")
            return 0
        if args.command == "simulate":
            from incidents.simulate import run

            if args.rate <= 0 or not 0 < args.duration <= 86400:
                print("--rate must be > 0 and --duration in (0, 86400] seconds", file=sys.stderr)
                return 2
            if args.url and not args.api_key:
                print("--url needs --api-key", file=sys.stderr)
                return 2
            stats = run(rate=args.rate, duration_s=args.duration, seed=args.seed, url=args.url, api_key=args.api_key)
            print(stats)
            return 0
    except IncidentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
