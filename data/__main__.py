"""``python -m data``: load the demo city, import a utility's data.

    python -m data load-demo [--seed N] [--if-missing]      (refused when ZHKH_ENV=production)
    python -m data import FILE [options]     (see ``python -m data import --help``)

A refused command exits 2 with one line on stderr (``error: FILE: the problem``), never a
traceback; ``import --all-problems`` adds every validation problem, one per line, after it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from data.errors import DataError, ValidationFailed


def build_parser() -> argparse.ArgumentParser:
    from data import cli

    parser = argparse.ArgumentParser(prog="python -m data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    cli.add_demo_parser(sub)
    cli.add_import_parser(sub)
    return parser


def error_line(exc: DataError, source: str | None, *, all_problems: bool = False) -> str:
    """The one stderr line of a refused command: it names ``source`` (the file) and the problem."""
    if isinstance(exc, ValidationFailed):
        msg = exc.one_line(source or "input", hint=not all_problems)
    else:
        msg = str(exc)
        if source and not msg.startswith(source) and source not in msg.split(":", 1)[0]:
            msg = f"{source}: {msg}"
    return "error: " + " ".join(msg.split())  # one line, whatever the message held


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DataError as exc:
        path = getattr(args, "path", None)
        all_problems = bool(getattr(args, "all_problems", False))
        print(error_line(exc, Path(path).name if path else None, all_problems=all_problems), file=sys.stderr)
        if isinstance(exc, ValidationFailed) and all_problems:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
