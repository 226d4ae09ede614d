"""Errors of the meters package: small ``ValueError`` subclasses whose messages name the input.

The CLI maps every :class:`MetersError` to exit code 2 with its one-line message. A bad *message* on
the broker is not an error of this kind: it becomes a row of ``meter_rejects`` (``meters.validate``).
"""
from __future__ import annotations

__all__ = ["MetersError", "BadArgument", "BrokerUnavailable", "NoMeters", "BadMessage"]


class MetersError(ValueError):
    """Base class: bad input given to a meters command."""


class BadArgument(MetersError):
    """A command-line value that cannot be used (URL, time, leak spec, rate)."""


class BrokerUnavailable(MetersError):
    """The MQTT broker cannot be reached."""


class NoMeters(MetersError):
    """The database has no meters to simulate."""


class BadMessage(ValueError):
    """A message that cannot be stored as a reading; ``str()`` is the reason kept in ``meter_rejects``."""
