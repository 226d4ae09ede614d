"""Notices to residents: subscriptions to an address, an outbox written with the outage change, and a
worker that delivers it over SMTP (``python -m notify worker``). See docs/notices.md."""
