"""Errors of notices: each names the input and what was received."""
from __future__ import annotations


class NotifyError(ValueError):
    """Base class of the notices' input errors."""


class InvalidRules(NotifyError):
    """A notices rules file that cannot be used."""


class InvalidSubscription(NotifyError):
    """A subscription with a bad e-mail, phone, language or building."""


class SmtpNotConfigured(NotifyError):
    """The worker has no SMTP host to deliver to."""


class TooManySubscriptions(InvalidSubscription):
    """An e-mail address that follows as many buildings as the rules allow."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class TooManyConfirmations(InvalidSubscription):
    """An e-mail address that got as many confirmation mails this hour as the rules allow."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit
