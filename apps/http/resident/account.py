"""A home's bill: the account number and the code from the bill open the month's charges line by line, a
reduction explained in words. Code tries are rate-limited per IP and counted per number
(``ops.resident.check_account_code``: a number locks after repeated wrong codes from any address); a
refusal never says which of the two was wrong."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from apps.http.resident.deps import ResidentPost, resident_post
from apps.http.resident.site import error_page, render, retry_after, utcnow
from ops import resident as resident_ops
from resident import queries
from resident.texts import LINE_KINDS, UNITS, Texts

ACCOUNT = re.compile(r"[0-9]{6,20}")
BACK = re.compile(r"/address/[0-9]{1,12}")

router = APIRouter()


@router.post("/account", response_class=HTMLResponse)
def account(request: Request, number: str = Form(""), code: str = Form(""), lang: str = Form("ru"),
            back: str = Form(""), post: ResidentPost = Depends(resident_post)) -> Response:
    site = post.site
    wait = site.code_tries.take(site.client_ip(request))
    if wait > 0:
        retry = max(1, int(wait + 0.999))
        return retry_after(error_page(request, 429, "resident.err.slow_title", "resident.err.slow_codes",
                                      minutes=_minutes(retry)), retry)
    number = number.strip().replace(" ", "")
    now = utcnow()
    outcome = resident_ops.check_account_code(
        post.actor, number if ACCOUNT.fullmatch(number) else "", code[:200], now=now, bind=site.db(),
        max_failures=max(1, site.settings.resident_code_account_failures),
        lock=timedelta(minutes=site.settings.resident_code_lock_min))
    back = back if BACK.fullmatch(back or "") else "/"
    if outcome.locked_until is not None:
        retry = max(1, int((outcome.locked_until - now).total_seconds() + 0.999))
        return retry_after(render(request, "account_refused.html", status=429, lang=lang, back=back, switch_path=back,
                                  locked_minutes=_minutes(retry)), retry)
    acc = outcome.account
    if acc is None:
        return render(request, "account_refused.html", status=403, lang=lang, back=back, switch_path=back)
    with site.db().connect() as conn:
        period, charges = queries.latest_charges(conn, acc["id"])
    worded(charges, Texts(lang, site.zone()))
    return render(request, "account.html", lang=lang, switch_path=f"/address/{acc['building_id']}", acc=acc,
                  period=period, charges=charges, total=sum((c["total_rub"] for c in charges), start=0))


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


def worded(charges: list[dict[str, Any]], tx: Texts) -> None:
    """Each charge's and line's unit and each line's label and explanation in the page's language."""
    for c in charges:
        for line in c["lines"]:
            line["label"] = tx.t(LINE_KINDS.get(line["kind"], "resident.line.consumption"))
            line["explain"] = explain(line, tx)
            line["unit_word"] = tx.t(UNITS[line["unit"]]) if line.get("unit") in UNITS else (line.get("unit") or "")
        c["unit_word"] = tx.t(UNITS[c["unit"]]) if c["unit"] in UNITS else c["unit"]


def when_off(details: dict[str, Any], outage_id: int, tx: Texts) -> str:
    """" (08.10.2026 21:10 – 09.10.2026 09:40)": when outage ``outage_id`` of a charge line's details was
    off, in the region's time; the end as a time only on the same day; "" when the details lack it."""
    found = next((o for o in details.get("outages") or [] if isinstance(o, dict) and o.get("id") == outage_id), None)
    try:
        start = datetime.fromisoformat(str(found["start"])) if found else None
        end = datetime.fromisoformat(str(found["end"])) if found and found.get("end") else None
    except (TypeError, ValueError, KeyError):
        return ""
    if start is None or start.tzinfo is None or (end is not None and end.tzinfo is None):
        return ""
    if end is None:
        return f" ({tx.when(start)} –)"
    same_day = start.astimezone(tx.zone).date() == end.astimezone(tx.zone).date()
    return f" ({tx.when(start)} – {end.astimezone(tx.zone):%H:%M})" if same_day else f" ({tx.when(start)} – {tx.when(end)})"


def explain(line: dict[str, Any], tx: Texts) -> str:
    """A reduction or correction line in words: "−0.9 %: 6 h beyond the 8 h allowance, outage №12"."""
    d = line.get("details") or {}
    if not isinstance(d, dict):
        return ""
    if line["kind"] == "correction" and isinstance(d.get("recalculation"), dict):
        inner = {**line, "kind": "reduction", "details": d["recalculation"]}
        return tx.t("resident.explain.correction", period=str(d.get("for_period", "")), why=explain(inner, tx))
    if line["kind"] != "reduction":
        return ""

    def first(*names: str) -> Any:
        return next((d[n] for n in names if d.get(n) not in (None, "")), None)

    pct, excess = first("pct", "reduction_pct"), first("excess_h", "excess", "hours_over")
    allowance, hours = first("allowance_h", "allowance"), first("interruption_h", "hours")
    ids = [int(i) for i in (line.get("outage_ids") or [])]
    outs = ", ".join(f"№{i}{when_off(d, i, tx)}" for i in ids)
    if pct is None or excess is None or allowance is None:
        return tx.tn("resident.explain.outages", len(ids), outages=outs) if ids else ""
    return tx.tn("resident.explain.reduction", len(ids), pct=tx.number(pct, 3), excess=tx.number(excess, 2),
                 allowance=tx.number(allowance, 2), hours=tx.number(hours or 0, 2), outages=outs)
