"""The text of a notice, in the subscriber's language (Russian unless they chose English): the
address, what is off, the reason, the expected end — times in the region's time zone."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from i18n import N_, translate
from incidents import service as incident_service
from incidents.intake import one_line
from settings import get_settings

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def region_zone() -> ZoneInfo:
    """The region's time zone (the SLA rules file's)."""
    return ZoneInfo(incident_service.rules_from_settings().timezone)


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
    "cancelled": N_("notice.cancelled.subject"),
}
BODIES = {
    "approved": N_("notice.approved.body"),
    "extended": N_("notice.extended.body"),
    "restored": N_("notice.restored.body"),
    "planned": N_("notice.planned.body"),
    "cancelled": N_("notice.cancelled.body"),
}
#: The longest subject composed (the worker cuts any header to one line of at most 250 characters).
SUBJECT_CHARS = 200


def _link(path: str) -> str:
    return f"{get_settings().resident_url.rstrip('/')}{path}"


def compose(event: str, outage: dict[str, Any], *, places: list[tuple[str, str]], lang: str,
            zone: ZoneInfo | None = None, building_ids: list[int] | None = None) -> tuple[str, str]:
    """(subject, body) of ``event`` of ``outage`` (a row: id, reason, planned_start/end, actual_end,
    resource) for a subscriber of ``places`` — (address, unsubscribe token) of each of their
    subscribed buildings inside the outage (one mail names them all). Addresses go in as one line of
    plain text: an address imported with a line break cannot start a header or a paragraph.
    ``building_ids`` (one per place): the mail links each address's page on the residents' page
    (status now, reports, the report form — one tap from the mail, also when installed as an app)."""
    lang = lang if lang in ("ru", "en") else "ru"
    zone = zone or region_zone()
    addresses = [one_line(a, 200) or "—" for a, _ in places]
    params = {
        "id": outage["id"], "address": "; ".join(addresses),
        "resource": resource_word(outage.get("resource"), lang),
        "reason": one_line(outage.get("reason"), 500) or translate(lang, N_("notice.no_reason")),
        "start": fmt_when(outage.get("planned_start"), lang, zone),
        "end": fmt_when(outage.get("planned_end"), lang, zone),
        "restored": fmt_when(outage.get("actual_end"), lang, zone),
    }
    subject = one_line(translate(lang, SUBJECTS[event], **params), SUBJECT_CHARS)
    body = translate(lang, BODIES[event], **params)
    if building_ids and len(building_ids) == len(places):
        pages = [_link(f"/address/{int(b)}?lang={lang}") for b in building_ids]
        if len(pages) == 1:
            body += "\n\n" + translate(lang, N_("notice.address_link"), link=pages[0])
        else:
            body += "\n\n" + translate(lang, N_("notice.address_links"),
                                        links="\n".join(f"- {a}: {u}" for a, u in zip(addresses, pages)))
    if len(places) == 1:
        footer = translate(lang, N_("notice.footer"), link=_link(f"/unsubscribe/{places[0][1]}"))
    else:
        links = "\n".join(f"- {a}: {_link(f'/unsubscribe/{t}')}" for a, (_, t) in zip(addresses, places))
        footer = translate(lang, N_("notice.footer_many"), links=links)
    return subject, f"{body}\n\n{footer}\n"


def compose_confirm(*, address: str, lang: str, token: str, valid_h: int) -> tuple[str, str]:
    """(subject, body) of the mail asking the owner of an address to confirm a subscription."""
    lang = lang if lang in ("ru", "en") else "ru"
    addr = one_line(address, 200) or "—"
    subject = one_line(translate(lang, N_("notice.confirm.subject"), address=addr), SUBJECT_CHARS)
    body = translate(lang, N_("notice.confirm.body"), address=addr, link=_link(f"/confirm/{token}?lang={lang}"), hours=valid_h)
    return subject, f"{body}\n"


REPORT_SUBJECTS = {
    "visit_planned": N_("notice.visit_planned.subject"),
    "org_resolved": N_("notice.org_resolved.subject"),
}
REPORT_BODIES = {
    "visit_planned": N_("notice.visit_planned.body"),
    "org_resolved": N_("notice.org_resolved.body"),
}


def compose_report(event: str, report: dict[str, Any], *, address: str, unsubscribe_token: str, lang: str,
                   zone: ZoneInfo | None = None) -> tuple[str, str]:
    """(subject, body) of ``event`` of a report (a row: id, service_code, org_name, visit_at) for a subscriber
    of the report's address: the organisation that answers for it and the planned visit (in the region's
    time zone), or that it resolved the report. Neither the report's description nor the organisation's
    answer text goes into the mail (a neighbour may follow the address): the answer, its photos and
    "fixed?" are on the report's page, whose link only its reporter holds."""
    lang = lang if lang in ("ru", "en") else "ru"
    zone = zone or region_zone()
    code = str(report.get("service_code") or "")
    service_key = f"incident.service.{code}"
    params = {
        "id": report["id"], "address": one_line(address, 200) or "—",
        "service": translate(lang, service_key) if code else "—",
        "org": one_line(report.get("org_name"), 200) or "—",
        "visit": fmt_when(report.get("visit_at"), lang, zone),
    }
    subject = one_line(translate(lang, REPORT_SUBJECTS[event], **params), SUBJECT_CHARS)
    body = translate(lang, REPORT_BODIES[event], **params)
    if report.get("building_id") is not None:
        body += "\n\n" + translate(lang, N_("notice.address_link"),
                                   link=_link(f"/address/{int(report['building_id'])}?lang={lang}"))
    footer = translate(lang, N_("notice.footer"), link=_link(f"/unsubscribe/{unsubscribe_token}"))
    return subject, f"{body}\n\n{footer}\n"
