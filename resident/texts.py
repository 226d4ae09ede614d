"""The page's language and the formatting of numbers, money, times and durations in it."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from i18n import LANGUAGES, N_, has_text, translate, translate_n
from i18n.families import COUNTED
from notify.messages import fmt_when

# the words the page builds from data, listed so that extraction finds them (docs/i18n.md)
LINE_KINDS = {
    "consumption": N_("resident.line.consumption"), "common": N_("resident.line.common"),
    "reduction": N_("resident.line.reduction"), "temperature": N_("resident.line.temperature"),
    "correction": N_("resident.line.correction"),
}
WITHOUT = {
    "cold_water": N_("resident.without.cold_water"), "hot_water": N_("resident.without.hot_water"),
    "heating": N_("resident.without.heating"), "gas": N_("resident.without.gas"),
    "sewer": N_("resident.without.sewer"), "electricity": N_("resident.without.electricity"),
}
UNITS = {"m3": N_("resident.unit.m3"), "gcal": N_("resident.unit.gcal"), "kwh": N_("resident.unit.kwh"),
         "h": N_("resident.unit.h"), "m2": N_("resident.unit.m2")}
REOPEN_REFUSED = {"already": N_("resident.reopen.already"), "not_resolved": N_("resident.reopen.not_resolved"),
                  "too_late": N_("resident.reopen.too_late")}
FIXED_REFUSED = {"bad_rating": N_("resident.fixed.bad_rating"), "not_resolved": N_("resident.fixed.not_resolved")}
SYSTEM_NOTES = {"reopened by resident": N_("resident.note.reopened"),
                "confirmed fixed by resident": N_("resident.note.fixed"),
                **{f"{kind} by the organisation": N_("resident.note.by_org")
                   for kind in ("accepted", "assigned", "visit_planned", "resolved")}}
ORG_STATES = {"accepted": N_("resident.answer.state.accepted"), "assigned": N_("resident.answer.state.assigned"),
              "visit_planned": N_("resident.answer.state.visit_planned"),
              "resolved": N_("resident.answer.state.resolved")}


class Texts:
    """``t`` and the formatters of one page in ``lang``, times in ``zone``."""

    def __init__(self, lang: str, zone: ZoneInfo) -> None:
        self.lang = lang if lang in LANGUAGES else "ru"
        self.zone = zone

    def t(self, key: str, **params: Any) -> str:
        return translate(self.lang, key, **params)

    def tn(self, key: str, n: Any, **params: Any) -> str:
        return translate_n(self.lang, key, n, **params)

    def has(self, key: str) -> bool:
        return has_text(key, self.lang) or has_text(key)

    def word(self, key: str, fallback: str) -> str:
        return self.t(key) if self.has(key) else fallback

    def when(self, value: datetime | None) -> str:
        return fmt_when(value, self.lang, self.zone)

    def number(self, value: Any, places: int = 2) -> str:
        """``value`` with at most ``places`` decimals, trailing zeros dropped; a decimal comma in Russian."""
        try:
            d = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return str(value)
        q = d.quantize(Decimal(1).scaleb(-places)).normalize()
        text = f"{q:,f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text.replace(",", "\u202f").replace(".", ",") if self.lang == "ru" else text

    def money(self, value: Any) -> str:
        try:
            d = Decimal(str(value)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            return str(value)
        sign = "−" if d < 0 else ""
        text = f"{abs(d):,.2f}"
        if self.lang == "ru":
            text = text.replace(",", "\u202f").replace(".", ",")
        return f"{sign}{text}\u00a0₽"

    def duration(self, minutes: int) -> str:
        """``5 h 40 min`` / ``5 ч 40 мин`` (``8 h`` when whole)."""
        h, m = divmod(max(0, int(minutes)), 60)
        if h == 0:
            return self.t("resident.dur.m", m=m)
        if m == 0:
            return self.t("resident.dur.h", h=h)
        return self.t("resident.dur.hm", h=h, m=m)

    def status(self, status: str) -> str:
        return self.word(f"incident.status.{status}", status)

    def resource(self, resource: str | None) -> str:
        return self.word(f"incident.resource.{resource}", resource or "")

    def service(self, code: str, fallback: str = "") -> str:
        return self.word(f"incident.service.{code}", fallback or code)

    def problem(self, problem: Any) -> str:
        """A problem of the intake model in the page's language (as the operators' pages say it)."""
        label_key = f"intake.field.{problem.field}"
        field = self.t(label_key) if self.has(label_key) else problem.field
        key = f"intake.problem.{problem.code}"
        count = COUNTED.get(key)
        if count:
            return self.tn(key, problem.params.get(count, 0), field=field, **problem.params)
        return self.t(key, field=field, **problem.params) if self.has(key) else str(problem)
