"""UI text in Russian and English: the gettext catalogs of ``i18n`` (``locale/*/LC_MESSAGES/zhkh.po``).

``CATALOG`` is a read-only view of them for the callers that still look keys up directly."""
from __future__ import annotations

from i18n import LANGUAGES, keys, translate

CATALOG: dict[str, dict[str, str]] = {lang: {k: translate(lang, k) for k in keys("")} for lang in LANGUAGES}

__all__ = ["CATALOG", "LANGUAGES", "translate"]
