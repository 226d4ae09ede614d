"""The inspector's signed map report (PDF, ReportLab): title page (area, period, author, generation
time in the region's time zone), the map of the area drawn offline, the KPI table with the
formulas, every report of the period and area, the outages with hours and buildings, "page N of M".

The area: an organisation (its reports; a management company's buildings, a utility's networks),
a bbox (reports and buildings inside it) or the whole service. Reports of the period = created in it.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    Image,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy import Connection, Engine, text

from i18n import translate
from settings import get_settings
from incidents import service as incidents
from reports import kpis as K
from reports import mapimage, orgs
from reports import rules as report_rules

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_fonts_ready = False


def _fonts() -> None:
    global _fonts_ready
    if not _fonts_ready:
        pdfmetrics.registerFont(TTFont("DejaVu", str(FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVu-Bold", str(FONT_DIR / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily("DejaVu", normal="DejaVu", bold="DejaVu-Bold")
        _fonts_ready = True


def _esc(value: Any) -> str:
    return (str(value if value is not None else "")).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def kpi_labels(t: Callable[..., str]) -> dict[str, tuple[str, str]]:
    """KPI key → (name, published formula) in the report's language."""
    return {
        "on_time": (t("inspection.kpi.on_time"), t("inspection.formula.on_time")),
        "overdue_open": (t("inspection.kpi.overdue_open"), t("inspection.formula.overdue_open")),
        "median_close_h": (t("inspection.kpi.median_close_h"), t("inspection.formula.median_close_h")),
        "p90_close_h": (t("inspection.kpi.p90_close_h"), t("inspection.formula.p90_close_h")),
        "answer_5min": (t("inspection.kpi.answer_5min"), t("inspection.formula.answer_5min")),
        "reopened": (t("inspection.kpi.reopened"), t("inspection.formula.reopened")),
        "repeat_per_1000": (t("inspection.kpi.repeat_per_1000"), t("inspection.formula.repeat_per_1000")),
        "outage_excess_h": (t("inspection.kpi.outage_excess_h"), t("inspection.formula.outage_excess_h")),
    }


PERCENT = {"on_time", "answer_5min", "reopened"}


def fmt_value(key: str, fig: dict[str, Any], t: Callable[..., str]) -> str:
    if fig["value"] is None:
        return "—"
    if key == "overdue_open":
        return str(fig["numerator"])
    v = f"{_dec(fig['value'] * 100, '#,##0.0')} %" if key in PERCENT else _dec(fig["value"], "#,##0.00")
    return v if fig["status"] == "ok" else f"{v} ({t('inspection.not_enough')})"


_LANG: ContextVar[str] = ContextVar("report_lang", default="ru")


def _dec(v: float, pattern: str = "#,##0.0") -> str:
    """A number in the report's language (decimal comma in Russian)."""
    return format_decimal(v, pattern, locale=_LANG.get())


def _num(v: Any) -> str:
    if isinstance(v, float):
        return _dec(v, "#,##0.##")
    return str(v)


class _Numbered(rl_canvas.Canvas):
    """A canvas that writes "page N of M" on every page once the page count is known."""

    footer = "{n} / {m}"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont("DejaVu", 8)
            w, _h = self._pagesize
            self.drawCentredString(w / 2, 8 * mm, self.footer.format(n=self._pageNumber, m=total))
            super().showPage()
        super().save()


def _area(conn: Connection, org: dict[str, Any] | None, bbox: tuple[float, float, float, float] | None,
          p: K.Period) -> dict[str, Any]:
    """What the report covers: bbox of the map, buildings, networks, report ids, outage ids."""
    args = {"start": p.start, "end": p.end}
    if org is not None and org["kind"] == "management_company":
        bids = [r[0] for r in conn.execute(text("SELECT id FROM buildings WHERE management_company_id = :o"),
                                           {"o": org["id"]})]
        ext_sql, ext_args = "SELECT ST_Extent(geom) FROM buildings WHERE id = ANY(:ids)", {"ids": bids}
        nids = None
    elif org is not None:
        nids = [r[0] for r in conn.execute(text("SELECT id FROM networks WHERE utility_id = :o"), {"o": org["id"]})]
        ext_sql, ext_args = "SELECT ST_Extent(geom) FROM pipes WHERE network_id = ANY(:ids)", {"ids": nids}
        bids = [r[0] for r in conn.execute(text(
            "SELECT DISTINCT building_id FROM service_connections WHERE network_id = ANY(:n)"), {"n": nids})]
    elif bbox is not None:
        bids = [r[0] for r in conn.execute(text(
            "SELECT id FROM buildings WHERE ST_Intersects(geom, ST_MakeEnvelope(:w, :s, :e, :n, 4326))"),
            dict(zip("wsen", bbox, strict=True)))]
        nids, ext_sql, ext_args = None, None, {}
    else:
        bids = None
        nids = None
        ext_sql, ext_args = ("SELECT ST_Extent(g) FROM (SELECT geom AS g FROM buildings UNION ALL "
                             "SELECT geom FROM pipes) x"), {}
    if ext_sql is not None:
        ext = conn.execute(text(f"SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM ({ext_sql}) AS q(x)"),
                           ext_args).one()
        if ext[0] is None:
            ext = conn.execute(text("SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM "
                                    "(SELECT ST_Extent(geom) FROM buildings) AS q(x)")).one()
        if ext[0] is None:
            ext = (0.0, 0.0, 0.01, 0.01)
        dx, dy = max(ext[2] - ext[0], 0.002) * 0.05, max(ext[3] - ext[1], 0.001) * 0.05
        map_bbox = (ext[0] - dx, ext[1] - dy, ext[2] + dx, ext[3] + dy)
    else:
        map_bbox = bbox  # type: ignore[assignment]
    if org is not None:
        rsql, rargs = "responsible_org_id = :o", {"o": org["id"]}
    elif bbox is not None:
        rsql, rargs = "ST_Intersects(geom, ST_MakeEnvelope(:w, :s, :e, :n, 4326))", dict(zip("wsen", bbox, strict=True))
    else:
        rsql, rargs = "true", {}
    report_ids = [r[0] for r in conn.execute(text(
        f"SELECT id FROM incidents WHERE created_at >= :start AND created_at < :end AND {rsql} ORDER BY created_at, id"),
        {**args, **rargs})]
    all_ids = [r[0] for r in conn.execute(text(f"SELECT id FROM incidents WHERE {rsql}"), rargs)]
    if org is not None and org["kind"] != "management_company":
        osql, oargs = "o.network_id = ANY(:n)", {"n": nids or []}
    elif bids is not None:
        osql, oargs = "EXISTS (SELECT 1 FROM outage_buildings ob WHERE ob.outage_id = o.id AND ob.building_id = ANY(:b))", \
            {"b": bids}
    else:
        osql, oargs = "true", {}
    outage_ids = [r[0] for r in conn.execute(text(
        f"SELECT o.id FROM outages o WHERE o.actual_start IS NOT NULL AND o.actual_start < :end "
        f"AND coalesce(o.actual_end, now()) > :start AND {osql} ORDER BY o.actual_start"), {**args, **oargs})]
    return {"bbox": map_bbox, "building_ids": bids, "network_ids": nids, "report_ids": report_ids,
            "all_report_ids": set(all_ids), "outage_ids": outage_ids}


def build_report(engine: Engine, first: date | str, last: date | str, *, org_id: int | None = None,
                 bbox: tuple[float, float, float, float] | None = None, lang: str = "ru", author: str = "",
                 now: datetime | None = None) -> bytes:
    """The PDF (bytes) of the period (days, region's time zone) for an organisation, a bbox or everything."""
    _fonts()
    _LANG.set(lang)
    sla = incidents.rules_from_settings()
    rules = report_rules.current()
    tz = ZoneInfo(sla.timezone)
    p = K.period(first, last, sla.timezone)
    now = (now or datetime.now(timezone.utc)).astimezone(tz)

    def t(key: str, **kw: Any) -> str:
        return translate(lang, key, **kw)

    def dt(v: datetime | None) -> str:
        return v.astimezone(tz).strftime("%d.%m.%Y %H:%M") if v else "—"

    def network(name: str | None) -> str | None:
        # the demo network (its stored name is the setting demo_network_name) in the report's language
        return t("demo.network_name") if name and name == get_settings().demo_network_name else name

    def dts(v: datetime | None) -> str:
        return v.astimezone(tz).strftime("%d.%m.%y %H:%M") if v else "—"

    with engine.connect() as conn:
        org = orgs.get_organisation(conn, org_id) if org_id is not None else None
        area = _area(conn, org, bbox, p)
        data = K.compute(conn, p, sla, rules, org_id=org_id, now=now)
        reports = {r.id: r for r in K.load_reports(conn, p, sla, rules.repeat_window_days)}
        if org is None and bbox is not None:
            # the area's own figures: its reports, its buildings
            buildings = K.load_buildings(conn, rules)
            excess = K.outage_excess(K.load_outage_spans(conn, p, now), p, sla)
            rs = [r for r in reports.values() if r.id in area["all_report_ids"]]
            figs = K.org_figures(rs, buildings, excess, area["building_ids"] or [], p, sla, rules,
                                 everyone=list(reports.values()))
            data["organisations"] = [{"id": None, "kind": "area", "name": t("inspection.area_bbox"),
                                      "zone": K.overall_zone(figs), "kpis": figs}]
        zones = {o["id"]: o["zone"] for o in data["organisations"] if o["id"] is not None}
        bzones = {bid: zones.get(mc) for bid, mc in conn.execute(text(
            "SELECT id, management_company_id FROM buildings"))}
        rows = conn.execute(text("""
            SELECT i.id, i.category, i.priority, i.status, i.address, i.created_at, o.short_name
            FROM incidents i LEFT JOIN organisations o ON o.id = i.responsible_org_id
            WHERE i.id = ANY(:ids) ORDER BY i.created_at, i.id"""), {"ids": area["report_ids"]}).mappings().all()
        outage_rows = conn.execute(text("""
            SELECT o.id, o.kind, o.reason, o.actual_start, o.actual_end, n.name AS network, n.resource,
                   (SELECT count(*) FROM outage_buildings ob WHERE ob.outage_id = o.id) AS buildings,
                   (SELECT coalesce(sum(b.residents), 0) FROM outage_buildings ob JOIN buildings b ON b.id = ob.building_id
                    WHERE ob.outage_id = o.id) AS residents,
                   (SELECT string_agg(coalesce(b.address, '#' || b.id), '; ' ORDER BY b.address)
                    FROM (SELECT b.* FROM outage_buildings ob JOIN buildings b ON b.id = ob.building_id
                          WHERE ob.outage_id = o.id ORDER BY b.address LIMIT 6) b) AS addresses
            FROM outages o LEFT JOIN networks n ON n.id = o.network_id WHERE o.id = ANY(:ids) ORDER BY o.actual_start
        """), {"ids": area["outage_ids"]}).mappings().all()
        png, w_in, h_in = mapimage.render(conn, bbox=area["bbox"], building_ids=area["building_ids"],
                              network_ids=area["network_ids"], report_ids=area["report_ids"],
                              outage_ids=area["outage_ids"], building_zones=bzones,
                              labels={"network": t("inspection.map.network"), "outage": t("inspection.map.outage"),
                                      "emergency": translate(lang, "incident.priority.emergency"),
                                      "urgent": translate(lang, "incident.priority.urgent"),
                                      "routine": translate(lang, "incident.priority.routine")})

    zone_text = {"green": t("inspection.zone.green"), "yellow": t("inspection.zone.yellow"),
                 "red": t("inspection.zone.red"), None: "—"}
    kind_text = {"management_company": t("inspection.kind.management_company"),
                 "utility": t("inspection.kind.utility"), "contractor": t("inspection.kind.contractor")}
    base = ParagraphStyle("base", fontName="DejaVu", fontSize=8.5, leading=10.5)
    small = ParagraphStyle("small", parent=base, fontSize=7, leading=8.5)
    h1 = ParagraphStyle("h1", parent=base, fontName="DejaVu-Bold", fontSize=20, leading=26, alignment=TA_CENTER)
    h2 = ParagraphStyle("h2", parent=base, fontName="DejaVu-Bold", fontSize=13, leading=17, spaceAfter=6,
                        keepWithNext=1)
    body = ParagraphStyle("body", parent=base, fontSize=11, leading=15)
    if org is not None:
        area_text = f"{_esc(org['name'])} ({kind_text[org['kind']]}, {t('inspection.inn')} {_esc(org['inn'] or '—')})"
    elif bbox is not None:
        area_text = t("inspection.area_bbox") + f": {bbox[0]:.5f}, {bbox[1]:.5f}, {bbox[2]:.5f}, {bbox[3]:.5f}"
    else:
        area_text = t("inspection.area_all")
    story: list[Any] = [
        Spacer(1, 40 * mm), Paragraph(t("inspection.pdf.title"), h1), Spacer(1, 12 * mm),
        Paragraph(f"<b>{t('inspection.pdf.area')}:</b> {area_text}", body),
        Paragraph(f"<b>{t('inspection.pdf.period')}:</b> {p.first_day.strftime('%d.%m.%Y')} – "
                  f"{p.last_day.strftime('%d.%m.%Y')} ({sla.timezone})", body),
        Paragraph(f"<b>{t('inspection.pdf.author')}:</b> {_esc(author)}", body),
        Paragraph(f"<b>{t('inspection.pdf.generated')}:</b> {now.strftime('%d.%m.%Y %H:%M')} ({sla.timezone})", body),
        Paragraph(f"<b>{t('inspection.pdf.counts')}:</b> {t('inspection.pdf.counts_text', reports=len(rows), outages=len(outage_rows))}", body),
        Spacer(1, 30 * mm),
        Paragraph(t("inspection.pdf.signature"), body),
        PageBreak(),
        Paragraph(t("inspection.pdf.map"), h2),
        Image(io.BytesIO(png), width=w_in * 25.4 * mm, height=h_in * 25.4 * mm),
        Paragraph(t("inspection.pdf.map_note"), small),
        PageBreak(),
        Paragraph(t("inspection.pdf.kpis"), h2),
    ]
    labels = kpi_labels(t)
    zone_colour = {"green": colors.HexColor("#c8e6c9"), "yellow": colors.HexColor("#fff59d"),
                   "red": colors.HexColor("#ffcdd2")}
    main = data["organisations"][0]
    krows = [[Paragraph(f"<b>{x}</b>", base) for x in (t("inspection.col.kpi"), t("inspection.col.value"),
                                                       t("inspection.col.num_den"), t("inspection.col.zone"),
                                                       t("inspection.col.formula"))]]
    styles = [("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
              ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))]
    for i, (key, (name, formula)) in enumerate(labels.items(), start=1):
        fig = main["kpis"][key]
        krows.append([Paragraph(name, base), Paragraph(fmt_value(key, fig, t), base),
                      Paragraph(f"{_num(fig['numerator'])} / {_num(fig['denominator'])}", base),
                      Paragraph(zone_text[fig["zone"]], base),
                      Paragraph(formula, small)])
        if fig["zone"]:
            styles.append(("BACKGROUND", (3, i), (3, i), zone_colour[fig["zone"]]))
    story += [Paragraph(f"{_esc(main['name'] if main['id'] is not None else area_text)} — "
                        f"{t('inspection.zone_overall')}: "
                        f"{zone_text[main['zone']]}", base), Spacer(1, 3 * mm),
              Table(krows, colWidths=[55 * mm, 32 * mm, 28 * mm, 20 * mm, 135 * mm], style=TableStyle(styles)),
              Spacer(1, 3 * mm),
              Paragraph(t("inspection.pdf.guard", n=rules.min_count), small)]
    cats = main["kpis"]["by_category"]
    if cats:
        crow = [[Paragraph(f"<b>{x}</b>", base) for x in (t("inspection.col.category"), t("inspection.col.closed"),
                                                          t("inspection.kpi.median_close_h"), t("inspection.kpi.p90_close_h"))]]
        for c, f in cats.items():
            crow.append([Paragraph(translate(lang, f"incident.category.{c}"), base),
                         Paragraph(str(f["median_close_h"]["denominator"]), base),
                         Paragraph(fmt_value("median_close_h", f["median_close_h"], t), base),
                         Paragraph(fmt_value("p90_close_h", f["p90_close_h"], t), base)])
        story += [Spacer(1, 4 * mm), Paragraph(t("inspection.pdf.by_category"), h2),
                  Table(crow, colWidths=[70 * mm, 30 * mm, 55 * mm, 55 * mm], repeatRows=1,
                        style=TableStyle(styles[:3]))]
    if org is None and bbox is None and len(data["organisations"]) > 1:
        rrow = [[Paragraph(f"<b>{x}</b>", small) for x in (
            t("inspection.col.org"), t("inspection.col.zone"), labels["on_time"][0], labels["median_close_h"][0],
            labels["answer_5min"][0], labels["reopened"][0], labels["repeat_per_1000"][0],
            labels["outage_excess_h"][0])]]
        rstyles = list(styles[:3])
        for i, o in enumerate(K.ranking(data), start=1):
            k = o["kpis"]
            rrow.append([Paragraph(_esc(o["name"]), small),
                         Paragraph(zone_text[o["zone"]], small)] +
                        [Paragraph(f"{fmt_value(key, k[key], t)}<br/>{_num(k[key]['numerator'])} / "
                                   f"{_num(k[key]['denominator'])}", small)
                         for key in ("on_time", "median_close_h", "answer_5min", "reopened", "repeat_per_1000",
                                     "outage_excess_h")])
            if o["zone"]:
                rstyles.append(("BACKGROUND", (1, i), (1, i), zone_colour[o["zone"]]))
        story += [Spacer(1, 4 * mm), Paragraph(t("inspection.pdf.ranking"), h2),
                  Table(rrow, repeatRows=1, colWidths=[60 * mm, 18 * mm] + [33 * mm] * 6, style=TableStyle(rstyles))]

    story += [PageBreak(), Paragraph(t("inspection.pdf.reports", n=len(rows)), h2)]
    lrows = [[Paragraph(f"<b>{x}</b>", small) for x in (
        t("inspection.col.number"), t("inspection.col.category"), t("inspection.col.priority"),
        t("inspection.col.address"), t("inspection.col.org"), t("inspection.col.created"),
        t("inspection.col.deadline"), t("inspection.col.closed"), t("inspection.col.overdue"))]]
    lstyles = list(styles[:3])
    for i, r in enumerate(rows, start=1):
        rep = reports.get(r["id"])
        due = rep.due if rep else None
        closed = rep.first_resolution() if rep else None
        late = (closed is not None and due is not None and closed > due) or (
            closed is None and due is not None and due < min(now, p.end) and r["status"] not in
            ("rejected", "duplicate", "cancelled"))
        if late and due is not None:
            over = ((closed or min(now, p.end)) - due).total_seconds() / 3600
            late_txt = t("inspection.overdue_h", h=_dec(over))
            lstyles.append(("BACKGROUND", (8, i), (8, i), colors.HexColor("#ffcdd2")))
        else:
            late_txt = t("inspection.no")
        # plain strings where nothing needs wrapping (a Paragraph per cell is what makes long lists slow)
        lrows.append([f"№{r['id']}", translate(lang, f"incident.category.{r['category']}")[:28],
                      translate(lang, f"incident.priority.{r['priority']}"),
                      Paragraph(_esc(r["address"] or "—"), small), (r["short_name"] or "—")[:24],
                      dts(r["created_at"]), dts(due),
                      dts(closed) if closed else translate(lang, f"incident.status.{r['status']}")[:20], late_txt])
    lstyles += [("FONT", (0, 1), (-1, -1), "DejaVu", 7), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    story.append(LongTable(lrows, repeatRows=1, colWidths=[16 * mm, 36 * mm, 20 * mm, 62 * mm, 34 * mm, 24 * mm,
                                                            24 * mm, 28 * mm, 22 * mm], style=TableStyle(lstyles)))
    story += [PageBreak(), Paragraph(t("inspection.pdf.outages", n=len(outage_rows)), h2)]
    orow = [[Paragraph(f"<b>{x}</b>", small) for x in (
        t("inspection.col.number"), t("inspection.col.network"), t("inspection.col.start"), t("inspection.col.end"),
        t("inspection.col.hours"), t("inspection.col.buildings"), t("inspection.col.addresses"))]]
    for o in outage_rows:
        end = o["actual_end"] or now
        hours = (end - o["actual_start"]).total_seconds() / 3600
        orow.append([Paragraph(f"№{o['id']}", small), Paragraph(_esc(network(o["network"]) or "—"), small),
                     Paragraph(dt(o["actual_start"]), small),
                     Paragraph(dt(o["actual_end"]) if o["actual_end"] else t("inspection.ongoing"), small),
                     Paragraph(_dec(hours), small), Paragraph(f"{o['buildings']} ({o['residents']})", small),
                     Paragraph(_esc(o["addresses"] or "—") + (" …" if o["buildings"] > 6 else ""), small)])
    story.append(LongTable(orow, repeatRows=1, colWidths=[16 * mm, 45 * mm, 28 * mm, 28 * mm, 18 * mm, 24 * mm,
                                                          107 * mm], style=TableStyle(styles[:3])))
    ex = main["kpis"]["outage_excess_h"].get("buildings") or []
    if ex:
        erow = [[Paragraph(f"<b>{x}</b>", small) for x in (t("inspection.col.address"), t("inspection.col.hours"),
                                                           t("inspection.col.excess"), t("inspection.col.number"))]]
        for b in ex[:200]:
            erow.append([Paragraph(_esc(b["address"] or f"#{b['building_id']}"), small), Paragraph(_dec(b['hours']), small),
                         Paragraph(_dec(b['excess_h']), small),
                         Paragraph(", ".join(f"№{i}" for i in b["outage_ids"]), small)])
        story += [Spacer(1, 4 * mm), Paragraph(t("inspection.pdf.excess"), h2),
                  LongTable(erow, repeatRows=1, colWidths=[90 * mm, 25 * mm, 35 * mm, 60 * mm],
                            style=TableStyle(styles[:3]))]

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=15 * mm, title=t("inspection.pdf.title"),
                            author=author, subject=area_text)

    class _Canvas(_Numbered):
        footer = t("inspection.pdf.page")

    doc.build(story, canvasmaker=_Canvas)
    return buf.getvalue()


def monthly(actor: Any, first: date, last: date, out_dir: Path, *, lang: str = "ru", author: str = "") -> list[Path]:
    """One PDF per active organisation with buildings, networks or reports (for cron); their paths."""
    from ops import inspection

    out = []
    for o in inspection.organisations(actor):
        pdf = inspection.inspection_pdf(actor, first, last, org_id=o["id"], lang=lang, author=author)
        path = out_dir / f"inspection-{first.strftime('%Y-%m')}-org{o['id']}.pdf"
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(pdf)
        tmp.replace(path)
        out.append(path)
    return out
