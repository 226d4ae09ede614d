"""The command lines' one contract for errors: one line on stderr, ``error: …``, exit code 2, never a traceback.

    parser = Parser(prog="python -m X", description=__doc__)   # a usage error: one line, exit 2
    return run(lambda: _run(args), DomainError)                 # a domain error or a database down: one line, exit 2
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from ops.errors import is_database_down

EXIT_ERROR = 2


def one_line(text: object) -> str:
    """``text`` on one line (an error message may quote a file's content or a database's multi-line notice)."""
    return " ".join(str(text).split())


def fail(message: object) -> int:
    """Print ``error: message`` on one line to stderr; the exit code to return."""
    print(f"error: {one_line(message)}", file=sys.stderr)
    return EXIT_ERROR


def unexpected(what: str, exc: BaseException) -> int:
    """An error the command did not expect while it ``what`` (e.g. "forecast from a.csv / b.csv"): still one line,
    naming the exception's type, never a traceback; the exit code."""
    return fail(f"cannot {what}: {type(exc).__name__}: {one_line(exc)[:300]}")


class Parser(argparse.ArgumentParser):
    """argparse with the contract: a usage error is one line on stderr and exit code 2."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise SystemExit(fail(message))


def run(body: Callable[[], int | None], *errors: type[BaseException]) -> int:
    """Run a command's body; ``errors`` (the domain's expected failures) and a database that is down become
    one line and exit code 2. Anything else is a bug and keeps its traceback."""
    try:
        return body() or 0
    except errors as exc:
        return fail(exc)
    except Exception as exc:
        if is_database_down(exc):
            return fail(f"the database is unavailable ({one_line(exc)[:200]})")
        raise


def check_port(port: int) -> None:
    """Refuse a port outside 1..65535 (the command's caller sees one line and exit 2)."""
    if not 0 < port < 65536:
        raise SystemExit(fail(f"--port must be 1..65535, got {port}"))


class ProgParser(Parser):
    """A usage error as ``python -m X …: error: …`` on one line, exit code 2: the form the engine's commands
    (network, forecast, meters) have always printed, kept because outside checks read it."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {one_line(message)}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)
