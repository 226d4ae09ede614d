"""Formatting shared by the incident pages: translated vocabulary, times in the region's zone,
countdowns, and free text made safe for markdown-rendering elements."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st

from incidents import service as S
from views.common import t
from views.i18n import CATALOG

SLA_STATES = ("on_time", "at_risk", "overdue", "met", "breached")


def label(kind: str, value: str | None) -> str:
    """Translated vocabulary word (``incident.<kind>.<value>``), or the value itself when unknown."""
    if value is None:
        return ""
    key = f"incident.{kind}.{value}"
    return t(key) if key in CATALOG["ru"] else str(value)


_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$=:")


def md_safe(value: object) -> str:
    """Free text for a markdown-rendering element (st.error, st.success…): every markdown and HTML
    character backslash-escaped, so ``<b>`` or ``**x**`` show literally."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(value or ""))


def service_label(code: str) -> str:
    key = f"incident.service.{code}"
    if key in CATALOG["ru"]:
        return t(key)
    rule = S.rules_from_settings().services.get(code)
    return rule.name if rule else code


def fmt_dt(value: datetime | None, *, seconds: bool = False) -> str:
    """A timestamp in the rules' time zone, e.g. ``26.11 14:05``."""
    if value is None:
        return ""
    tz = ZoneInfo(S.rules_from_settings().timezone)
    return value.astimezone(tz).strftime("%d.%m %H:%M:%S" if seconds else "%d.%m %H:%M")


def fmt_left(minutes: float) -> str:
    """Minutes to a deadline as ``h:mm`` (``−h:mm`` past it)."""
    sign = "−" if minutes < 0 else ""
    m = int(abs(minutes))
    return f"{sign}{m // 60}:{m % 60:02d}"


def actor() -> str:
    return str(st.session_state.get("role") or "dispatcher")
