"""``python -m data``: load the demo city, import a utility's data.

    python -m data load-demo [--seed N] [--if-missing]
    python -m data import FILE [options]     (see ``python -m data import --help``)
"""
from __future__ import annotations

import argparse
import sys

from data.errors import DataError


def build_parser() -> argparse.ArgumentParser:
    from data import demo, importers

    parser = argparse.ArgumentParser(prog="python -m data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo.add_parser(sub)
    importers.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
