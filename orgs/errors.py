"""Errors of organisations' webhooks: each a refusal in words (400/404 over HTTP, exit 2 on the command line)."""
from __future__ import annotations


class WebhookError(Exception):
    """Base of the webhooks' errors."""


class InvalidWebhook(WebhookError):
    """A webhook refused for its input: a URL that is not http(s), names a loopback or private address or
    does not resolve; an empty or unusable secret. Nothing is written."""


class NoWebhook(WebhookError):
    """The organisation has no webhook (or the event does not exist)."""


class SealError(WebhookError):
    """A stored secret that cannot be opened (another ``ZHKH_WEBHOOK_KEY``, or the row was altered), or a
    key refused (the development key in production)."""
