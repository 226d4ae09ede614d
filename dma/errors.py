"""Errors of the DMA package: every one is a ``ValueError`` with a one-line message."""
from __future__ import annotations


class DmaError(ValueError):
    """Bad input to a DMA command or use-case."""


class UnknownDma(DmaError):
    pass


class InvalidRules(DmaError):
    pass


class InvalidOutline(DmaError):
    pass
