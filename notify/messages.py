"""The text of a notice, in the subscriber's language (Russian unless they chose English): the
address, what is off, the reason, the expected end — times in the region's time zone."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from i18n import N_, translate

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def region_zone() -> ZoneInfo:
    """The region's time zone (the SLA rules file's)."""
    from incidents.service import rules_from_settings

    return ZoneInfo(rules_from_settings().timezone)


def fmt_when(value: datetime | None, lang: str, zone: ZoneInfo | None = None) -> str:
    """``28.11.2026 14:00`` (ru) or ``28 Nov 2026, 14:00`` (en), in the region's zone."""
    if value is None:
        return "—"
    local = value.astimezone(zone or region_zone())
    if lang == "en":
        return f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M}"
    return local.strftime("%d.%m.%Y %H:%M")


def resource_word(resource: str | None, lang: str) -> str:
    key = f"incident.resource.{resource or 'cold_water'}"
    return translate(lang, key)


SUBJECTS = {
    "approved": N_("notice.approved.subject"),
    "extended": N_("notice.extended.subject"),
    "restored": N_("notice.restored.subject"),
    "planned": N_("notice.planned.subject"),
}
BODIES = {
    "approved": N_("notice.approved.body"),
    "extended": N_("notice.extended.body"),
    "restored": N_("notice.restored.body"),
    "planned": N_("notice.planned.body"),
}


def compose(event: str, outage: dict[str, Any], *, address: str, lang: str, unsubscribe_token: str,
            zone: ZoneInfo | None = None) -> tuple[str, str]:
    """(subject, body) of ``event`` of ``outage`` (a row: id, reason, planned_start/end, actual_end,
    resource) for a subscriber at ``address``."""
    from settings import get_settings

    lang = lang if lang in ("ru", "en") else "ru"
    zone = zone or region_zone()
    params = {
        "id": outage["id"], "address": address, "resource": resource_word(outage.get("resource"), lang),
        "reason": (outage.get("reason") or "").strip() or translate(lang, N_("notice.no_reason")),
        "start": fmt_when(outage.get("planned_start"), lang, zone),
        "end": fmt_when(outage.get("planned_end"), lang, zone),
        "restored": fmt_when(outage.get("actual_end"), lang, zone),
    }
    subject = translate(lang, SUBJECTS[event], **params)
    body = translate(lang, BODIES[event], **params)
    link = f"{get_settings().resident_url.rstrip('/')}/unsubscribe/{unsubscribe_token}"
    footer = translate(lang, N_("notice.footer"), link=link)
    return subject, f"{body}\n\n{footer}\n"
