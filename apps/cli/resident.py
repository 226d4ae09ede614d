"""``python -m resident``: the residents' public page.

    python -m resident serve [--host 127.0.0.1] [--port 8520]
"""
from __future__ import annotations

from apps.cli.common import Parser, run
from apps.cli.serve import serve
from settings import get_settings

FACTORY = "apps.http.resident:create_app"


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m resident", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serving = sub.add_parser("serve", help="serve the resident's page")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=None, help="default: ZHKH_RESIDENT_PORT (8520)")
    serving.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    port = args.port if args.port is not None else get_settings().resident_port
    return run(lambda: serve(FACTORY, host=args.host, port=port, log_level=args.log_level))
