"""The details of an audit event in words of the page's language (the audit page's table); the CSV
export keeps them whole, as JSON."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from views.common import t, tn
from views.formatting import fmt_dt, label

FAIL_REASONS = ("password", "unknown", "disabled", "locked")


def _n(value: object) -> str:
    return f"{int(value):,}".replace(",", "\u202f") if isinstance(value, (int, float)) else str(value)


def details_text(action: str, d: dict[str, Any]) -> str:
    """The details of an event in words of the page's language (the CSV keeps them whole, as JSON)."""
    if action in ("incident.status", "incident.create"):
        return " → ".join(label("status", s) for s in (d.get("from"), d.get("to")) if s)
    if action == "auth.login":
        return t("audit.d.role", role=t(f"role.{d.get('role')}"))
    if action == "auth.login_failed":
        return t(f"audit.d.failed.{d.get('reason')}") if d.get("reason") in FAIL_REASONS else ""
    if action == "user.set_role":
        return t("audit.d.role_change", old=t(f"role.{d.get('from')}"), new=t(f"role.{d.get('to')}"))
    if action == "user.add":
        return t("audit.d.role", role=t(f"role.{d.get('role')}"))
    if action == "valve.status":
        return t("audit.d.valve", valve=d.get("ext_id", ""), old=t(f"legend.valve.{d.get('from')}"),
                 new=t(f"legend.valve.{d.get('to')}"))
    if action.startswith("outage.") and ("buildings" in d or "buildings_added" in d):
        parts = []
        if "buildings" in d:
            parts.append(tn("audit.d.buildings", d["buildings"], n=_n(d["buildings"])))
        if "residents" in d:
            parts.append(tn("audit.d.residents", d["residents"], n=_n(d["residents"])))
        if d.get("buildings_added"):
            parts.append(tn("audit.d.buildings_added", len(d["buildings_added"]), n=_n(len(d["buildings_added"]))))
        if d.get("valves_added"):
            parts.append(tn("audit.d.valves_added", len(d["valves_added"]), n=_n(len(d["valves_added"]))))
        return ", ".join(parts)
    if action in ("outage.start", "outage.restore") and ("incidents_resolved" in d or "reports_linked" in d):
        n = len(d.get("incidents_resolved") or d.get("reports_linked") or [])
        if action == "outage.restore":
            return tn("audit.d.reports_resolved", n, n=_n(n))
        return tn("audit.d.reports_linked", n, n=_n(n))
    if action in ("incident.note_add", "incident.note_edit"):
        return t("audit.d.note", id=d.get("note_id", ""))
    if action in ("data.import", "demo.reload"):
        return t("audit.d.import", file=d.get("file") or "", checksum=str(d.get("checksum") or "")[:12],
                 diff=d.get("diff") or "")
    if action == "outage.reschedule" and isinstance(d.get("from"), dict) and isinstance(d.get("to"), dict):
        return t("audit.d.reschedule", old=_span(d["from"]), new=_span(d["to"]))
    if action == "api_key.revoke" and isinstance(d.get("revoked"), int):
        return tn("audit.d.keys_revoked", d["revoked"], n=_n(d["revoked"]))
    # anything else stays whole in the CSV (as JSON); the page never shows raw data
    return t("audit.d.in_csv") if d else ""


def _when(value: object) -> str:
    try:
        return fmt_dt(datetime.fromisoformat(str(value))) if value else "…"
    except ValueError:
        return "…"


def _span(period: dict[str, Any]) -> str:
    return f"{_when(period.get('start'))} – {_when(period.get('end'))}"


def object_label(kind: str | None, number: str | None) -> str:
    word = t(f"audit.object.{kind}") if kind else ""
    return f"{word} {number or ''}".strip()
