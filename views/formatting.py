"""Formatting shared by the incident pages: translated vocabulary, times in the region's zone,
countdowns, and free text made safe for markdown-rendering elements."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from i18n import SYSTEM_NOTE_PREFIX, has_text, read_system_note
from ops.incidents import rules
from settings import get_settings
from views.common import lang, t

SLA_STATES = ("on_time", "at_risk", "overdue", "met", "breached")


def label(kind: str, value: str | None) -> str:
    """Translated vocabulary word (``incident.<kind>.<value>``; a building's kind: ``legend.kind.<value>``,
    the words of the map's legend), or the value itself when unknown."""
    if value is None:
        return ""
    key = f"legend.kind.{value}" if kind == "kind" else f"incident.{kind}.{value}"
    return t(key) if has_text(key) else str(value)


_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$=:")


_AUTOLINK = re.compile(r"(?i)(?<=[a-z]):(?=//)|(?<=www)\.|@")
_WORD_JOINER = "\u2060"


def md_safe(value: object) -> str:
    """Free text for a markdown-rendering element (st.error, st.toast…): every markdown and HTML
    character backslash-escaped, so ``<b>`` or ``**x**`` show literally, and an invisible word joiner
    inside ``://``, ``www.`` and ``@`` so that a URL or an e-mail address is never made a link."""
    text = _AUTOLINK.sub(lambda m: m.group(0) + _WORD_JOINER, "" if value is None else str(value))
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def service_label(code: str) -> str:
    key = f"incident.service.{code}"
    if has_text(key):
        return t(key)

    rule = rules().services.get(code)
    return rule.name if rule else code


def fmt_dt(value: datetime | None, *, seconds: bool = False) -> str:
    """A timestamp in the rules' time zone, e.g. ``26.11 14:05``."""
    if value is None:
        return ""

    tz = ZoneInfo(rules().timezone)
    return value.astimezone(tz).strftime("%d.%m %H:%M:%S" if seconds else "%d.%m %H:%M")


def fmt_int(value: int | float | None) -> str:
    """A whole number for people: thin-space thousands in Russian, commas in English."""
    if value is None:
        return ""
    text = f"{int(round(value)):,}"
    return text.replace(",", "\u202f") if st_lang() == "ru" else text


def st_lang() -> str:

    return lang()


def fmt_left(minutes: float) -> str:
    """Minutes to a deadline as ``h:mm`` (``−h:mm`` past it)."""
    sign = "−" if minutes < 0 else ""
    m = int(abs(minutes))
    return f"{sign}{m // 60}:{m % 60:02d}"


_HISTORY_NOTE = re.compile(r"^outage #(\d+)(?: (approved|valves closed|restored|merged|extended))?$")
_DUPLICATE_NOTE = re.compile(r"^duplicate of #(\d+)$")
# notes code wrote in English before they were stored as keys (i18n.system_note)
_LEGACY_SYSTEM_NOTES = ((re.compile(r"^found stuck during outage #(\d+)$"), "valve_stuck_in_outage"),
                        (re.compile(r"^demo month: the outage's times set to the past"), "demo_month_backdated"),
                        (re.compile(r"^demo month: outages of the previous month"), "demo_month"))


def history_note(note: str | None) -> str:
    """A history note in the UI language: the notes the system writes itself (outage steps, a report
    linked to an outage, a duplicate) are translated; people's notes are shown as written."""
    m = _HISTORY_NOTE.match(note or "")
    if m:
        return t(f"history.outage.{(m.group(2) or 'linked').replace(' ', '_')}", id=m.group(1))
    m = _DUPLICATE_NOTE.match(note or "")
    if m:
        return t("history.duplicate", id=m.group(1))
    written = read_system_note(note)
    if written is None:
        for pattern, name in _LEGACY_SYSTEM_NOTES:
            m = pattern.match(note or "")
            if m:
                written = (SYSTEM_NOTE_PREFIX + name, {"id": m.group(1) if m.groups() else ""})
                break
    if written is not None and has_text(written[0]):
        return t(written[0], **written[1])
    return note or ""


def outage_state(outage: object) -> str:
    """An outage's state in words: a planned one is "approved, crew dispatched" for a break and
    "scheduled" for planned works."""
    state, kind = getattr(outage, "state"), getattr(outage, "kind", "emergency")
    if state == "planned":
        return t("outage.state.scheduled" if kind == "planned" else "outage.state.approved")
    return t(f"outage.state.{state}")


def network_name(name: str | None) -> str:
    """A network's name for people: the demo network's (stored once, in English, as the setting
    ``demo_network_name``) in the page's language; any other as it was loaded."""

    if name and name == get_settings().demo_network_name:
        return t("demo.network_name")
    return name or ""
