"""Errors of the data loaders: each names the file, layer, feature and the problem."""
from __future__ import annotations


class DataError(ValueError):
    """Base class: bad input data; the CLI prints the message and exits 2."""


class ValidationFailed(DataError):
    """An import found problems; nothing was written. ``problems`` lists them all."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  ".join(problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s), nothing was written:\n  {shown}{more}")
