"""``python -m resident``: the residents' public page.

    python -m resident serve [--host 127.0.0.1] [--port 8520]
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resident", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the resident's page")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: ZHKH_RESIDENT_PORT (8520)")
    serve.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    from settings import get_settings

    port = args.port if args.port is not None else get_settings().resident_port
    if not 0 < port < 65536:
        print(f"error: --port must be 1..65535, got {port}", file=sys.stderr)
        return 2
    import uvicorn

    uvicorn.run("resident.web:create_app", factory=True, host=args.host, port=port, log_level=args.log_level,
                access_log=False, timeout_keep_alive=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
