"""The crews' phone page's command (``python -m field``); the app is ``apps.http.field``."""
