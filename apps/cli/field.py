"""``python -m field``: the crews' phone page.

    python -m field serve [--host 127.0.0.1] [--port 8530]

Crews sign in with their accounts (``python -m auth user add LOGIN --role crew --org ORG_ID``).
"""
from __future__ import annotations

from apps.cli.common import Parser, run
from apps.cli.serve import serve

FACTORY = "apps.http.field:create_app"
DEFAULT_PORT = 8530


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m field", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    serving = sub.add_parser("serve", help="serve the crews' phone page")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}")
    serving.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    return run(lambda: serve(FACTORY, host=args.host, port=args.port, log_level=args.log_level))
