"""Errors of the graph engine: small ``ValueError`` subclasses whose messages name the input.

The CLI maps every :class:`NetworkError` to exit code 2 with its one-line message.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "NetworkError",
    "InputFileError",
    "InvalidNetwork",
    "InvalidValve",
    "UnknownPipe",
    "UnknownValve",
    "one_line",
]


class NetworkError(ValueError):
    """Base class: bad input given to the graph engine."""


class InputFileError(NetworkError):
    """A file cannot be read or does not have the expected format or columns."""


class InvalidNetwork(NetworkError):
    """Links or sources that do not form a valid network (duplicate ids, unknown end nodes)."""


class InvalidValve(NetworkError):
    """A valve that does not fit the network: unknown link or node, node not an end of its link,
    bad status, duplicate id."""


class UnknownPipe(NetworkError, KeyError):
    """A pipe (link) id that is not in the network."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnknownValve(NetworkError, KeyError):
    """A valve id that is not in the valve layer."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def one_line(problems: Sequence[str], *, limit: int = 5) -> str:
    """Join collected problems into one line, keeping the first ``limit`` of them."""
    shown = "; ".join(p.replace("\n", " ") for p in problems[:limit])
    more = len(problems) - limit
    return shown + (f"; ... and {more} more" if more > 0 else "")
