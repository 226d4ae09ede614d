"""The service's texts in Russian and English: gettext catalogs read with Babel. No Streamlit here —
the pages (``views/``) and the Open311 API (``apps/http/open311``) both translate through this module.

The catalogs are ``locale/<lang>/LC_MESSAGES/zhkh.po`` (the template is ``locale/zhkh.pot``). A msgid
is a dotted key (``"incident.count"``) and a msgstr is a ``str.format`` text (``"Заявка №{id}"``). A
text with a count is a plural entry: msgid ``key``, msgid_plural ``key + ".plural"``, one msgstr per
plural form of the language (Russian three, English two). The ``.po`` files are compiled in memory
when this module is imported, so a fresh clone needs no compile step. How to add a text, plurals and
the keys built at run time: ``docs/i18n.md``.
"""
from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = {"ru": "Русский", "en": "English"}
DEFAULT_LANGUAGE = "ru"  # the reference catalog, and the fallback of every other one
DOMAIN = "zhkh"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
PLURAL_SUFFIX = ".plural"  # msgid_plural = msgid + this


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    """The ``.po`` of ``lang`` as a Babel catalog (fuzzy and obsolete entries included, as written)."""
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


class _Language:
    """One language: its compiled translations and which msgids it has a text for."""

    def __init__(self, lang: str) -> None:
        catalog = read_catalog(lang)
        mo = BytesIO()
        write_mo(mo, catalog)  # fuzzy and empty entries are left out, as msgfmt does
        mo.seek(0)
        self.translations = Translations(mo, domain=DOMAIN)
        done = [m for m in catalog if m.id and not m.fuzzy]
        self.singular = frozenset(m.id for m in done if isinstance(m.id, str) and m.string)
        self.plural = frozenset(m.id[0] for m in done if isinstance(m.id, tuple)
                                and isinstance(m.string, tuple) and all(m.string))


_LANGS = {lang: _Language(lang) for lang in LANGUAGES}


def _chain(lang: str) -> tuple[_Language, ...]:
    ref = _LANGS[DEFAULT_LANGUAGE]
    own = _LANGS.get(lang, ref)
    return (own, ref) if own is not ref else (ref,)


def translate(lang: str, key: str, /, **params: Any) -> str:
    """The text of ``key`` in ``lang`` (falls back to Russian, then to the key itself), formatted with
    ``params``."""
    text = next((c.translations.gettext(key) for c in _chain(lang) if key in c.singular), key)
    return text.format(**params) if params else text


def translate_n(lang: str, key: str, n: Any, /, **params: Any) -> str:
    """The form of plural entry ``key`` for the count ``n`` in ``lang`` (falls back to Russian, then to
    the key), formatted with ``params`` and ``n`` (a ``n`` in ``params`` — e.g. the count with thousands
    separators — is what the text shows; the bare ``n`` picks the form)."""
    try:
        count = abs(int(n))
    except (TypeError, ValueError):
        count = 0  # not a number: the "many" form of Russian, the "other" form of English
    text = next((c.translations.ngettext(key, key + PLURAL_SUFFIX, count) for c in _chain(lang) if key in c.plural),
                key)
    return text.format(**{"n": n, **params})


def has_text(key: str, lang: str = DEFAULT_LANGUAGE) -> bool:
    """Whether the catalog of ``lang`` (by default the reference, Russian) has a text, plain or plural,
    for ``key``."""
    own = _LANGS[lang]
    return key in own.singular or key in own.plural


def keys(prefix: str) -> list[str]:
    """The msgids that start with ``prefix`` (e.g. ``"field."``), sorted."""
    ref = _LANGS[DEFAULT_LANGUAGE]
    return sorted(k for k in ref.singular | ref.plural if k.startswith(prefix))


def N_(key: str) -> str:  # noqa: N802 - the gettext name for "a msgid, translated later"
    """Marks a msgid that is kept in a variable and translated later (``t(note)``), so that extraction
    finds it; returns it unchanged."""
    return key


__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "LOCALE_DIR", "PLURAL_SUFFIX", "N_", "has_text", "keys", "po_path",
           "system_note", "read_system_note",
           "read_catalog", "translate", "translate_n"]


# ---- notes the code writes itself (audit reasons, valve register): stored as a key, shown translated

SYSTEM_NOTE_PREFIX = "history.system."


def system_note(name: str, number: int | str | None = None) -> str:
    """A note written by code, stored language-free (``history.system.<name>`` and ``#<number>``) so
    that every page shows it in its own language (``views.formatting.history_note``)."""
    return f"{SYSTEM_NOTE_PREFIX}{name}" + (f" #{number}" if number is not None else "")


def read_system_note(note: str | None) -> tuple[str, dict[str, str]] | None:
    """The key and parameters of a note :func:`system_note` wrote, else None."""
    m = re.fullmatch(r"(history\.system\.[a-z_]+)(?: #(\d+))?", (note or "").strip())
    if not m:
        return None
    return m.group(1), {"id": m.group(2) or ""}
