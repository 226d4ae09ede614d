"""Errors of the data loaders: each names the file, layer, feature (or network) and the problem."""
from __future__ import annotations

from collections.abc import Sequence


class DataError(ValueError):
    """Base class: bad input data or a refused import; the CLI prints the message and exits 2."""


class ValidationFailed(DataError):
    """An import found problems; nothing was written. ``problems`` lists them all."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  ".join(problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s), nothing was written:\n  {shown}{more}")

    def one_line(self, source: str, *, shown: int = 3, hint: bool = True) -> str:
        """``<source>: N problems, nothing written: p1; p2; p3 … and K more`` (for the CLI)."""
        n = len(self.problems)
        head = "; ".join(self.problems[:shown])
        more = f" … and {n - shown} more" + (" (--all-problems lists them)" if hint else "") if n > shown else ""
        noun = "problem" if n == 1 else "problems"
        return f"{source}: {n} {noun}, nothing written: {head}{more}"


class FileTooComplex(DataError):
    """A file beyond the loader's limits (too many layers, an archive that unpacks to too much)."""


class NetworkBusy(DataError):
    """The network (or building dataset) has outages planned or active: an import would pull
    pipes, valves or buildings from under them."""

    def __init__(self, what: str, outage_ids: Sequence[int]) -> None:
        self.what = what
        self.outage_ids = list(outage_ids)
        ids = ", ".join(str(i) for i in self.outage_ids)
        noun = "outage" if len(self.outage_ids) == 1 else "outages"
        super().__init__(f"{what} has {noun} planned or active ({ids}); restore or cancel "
                         f"{'it' if len(self.outage_ids) == 1 else 'them'} before importing")


class StalePreview(DataError):
    """The network changed after the preview the user confirmed: preview again."""

    def __init__(self, network: str, expected: int, current: int | None) -> None:
        self.network, self.expected, self.current = network, expected, current
        now = "it no longer exists" if current is None else f"now {current}"
        super().__init__(f'network "{network}" changed since the preview (revision {expected}, {now}); '
                         "preview the import again")


class ResourceMismatch(DataError):
    """An import would change an existing network's resource."""


class ConfirmationNeeded(DataError):
    """An import would change an existing network or dataset and was not confirmed (CLI ``--yes``)."""


class RefusedInProduction(DataError):
    """A test-only action (the demo city) asked for in production."""
