"""The inspector's signed map report (PDF, ReportLab): title page (area, period, author, generation
time in the region's time zone), the map of the area drawn offline, the KPI table with the
formulas, every report of the period and area, the outages with hours and buildings, "page N of M".

Drawing only: :func:`render` takes the plain ``InspectionData`` that ``reports.inspection_data.gather``
read (what the area is and which reports and outages it holds is said there) and reads nothing.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
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

from i18n import translate
from reports import mapimage
from reports.inspection_model import InspectionData
from reports.kpis import ranking

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
        **org_action_labels(t),
    }


def org_action_labels(t: Callable[..., str]) -> dict[str, tuple[str, str]]:
    """The figures of the organisations' own actions (``reports.kpis.ORG_ACTION_FIGURES``): key → (name,
    published formula) in the report's language."""
    return {
        "org_accept_h": (t("inspection.kpi.org_accept_h"), t("inspection.formula.org_accept_h")),
        "org_visit_on_time": (t("inspection.kpi.org_visit_on_time"), t("inspection.formula.org_visit_on_time")),
        "org_resolve_h": (t("inspection.kpi.org_resolve_h"), t("inspection.formula.org_resolve_h")),
        "org_returned": (t("inspection.kpi.org_returned"), t("inspection.formula.org_returned")),
        "org_rating": (t("inspection.kpi.org_rating"), t("inspection.formula.org_rating")),
    }


PERCENT = {"on_time", "answer_5min", "reopened", "org_visit_on_time", "org_returned"}


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


_ZONE_COLOUR = {"green": colors.HexColor("#c8e6c9"), "yellow": colors.HexColor("#fff59d"),
                "red": colors.HexColor("#ffcdd2")}
_HEAD = [("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
         ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))]


@dataclass
class _Page:
    """What every section draws with: the data, the language's texts and formats, the styles."""
    d: InspectionData
    lang: str
    author: str = ""
    area_text: str = ""

    def __post_init__(self) -> None:
        self.tz = self.d.now.tzinfo
        self.base = ParagraphStyle("base", fontName="DejaVu", fontSize=8.5, leading=10.5)
        self.small = ParagraphStyle("small", parent=self.base, fontSize=7, leading=8.5)
        self.h1 = ParagraphStyle("h1", parent=self.base, fontName="DejaVu-Bold", fontSize=20, leading=26,
                                 alignment=TA_CENTER)
        self.h2 = ParagraphStyle("h2", parent=self.base, fontName="DejaVu-Bold", fontSize=13, leading=17,
                                 spaceAfter=6, keepWithNext=1)
        self.body = ParagraphStyle("body", parent=self.base, fontSize=11, leading=15)
        t = self.t
        self.zone_text = {"green": t("inspection.zone.green"), "yellow": t("inspection.zone.yellow"),
                          "red": t("inspection.zone.red"), None: "—"}
        self.labels = kpi_labels(t)

    def t(self, key: str, **kw: Any) -> str:
        return translate(self.lang, key, **kw)

    def dt(self, v: datetime | None) -> str:
        return v.astimezone(self.tz).strftime("%d.%m.%Y %H:%M") if v else "—"

    def dts(self, v: datetime | None) -> str:
        return v.astimezone(self.tz).strftime("%d.%m.%y %H:%M") if v else "—"

    def network(self, name: str | None) -> str | None:
        # the demo network (its stored name is the setting demo_network_name) in the report's language
        t = self.t
        return t("demo.network_name") if name and name == self.d.demo_network_name else name


def _area_text(pg: _Page) -> str:
    d, t = pg.d, pg.t
    if d.org is not None:
        kind = {"management_company": t("inspection.kind.management_company"), "utility": t("inspection.kind.utility"),
                "contractor": t("inspection.kind.contractor")}[d.org["kind"]]
        return f"{_esc(d.org['name'])} ({kind}, {t('inspection.inn')} {_esc(d.org['inn'] or '—')})"
    if d.bbox is not None:
        b = d.bbox
        return t("inspection.area_bbox") + f": {b[0]:.5f}, {b[1]:.5f}, {b[2]:.5f}, {b[3]:.5f}"
    return t("inspection.area_all")


def _title_and_map(pg: _Page) -> list[Any]:
    d, t, p = pg.d, pg.t, pg.d.period
    png, w_in, h_in = mapimage.draw(d.map, building_zones=d.building_zones, labels={
        "network": t("inspection.map.network"), "outage": t("inspection.map.outage"),
        "emergency": translate(pg.lang, "incident.priority.emergency"),
        "urgent": translate(pg.lang, "incident.priority.urgent"),
        "routine": translate(pg.lang, "incident.priority.routine")})
    counts = t("inspection.pdf.counts_text", reports=len(d.report_rows), outages=len(d.outage_rows))
    return [
        Spacer(1, 40 * mm), Paragraph(t("inspection.pdf.title"), pg.h1), Spacer(1, 12 * mm),
        Paragraph(f"<b>{t('inspection.pdf.area')}:</b> {pg.area_text}", pg.body),
        Paragraph(f"<b>{t('inspection.pdf.period')}:</b> {p.first_day.strftime('%d.%m.%Y')} – "
                  f"{p.last_day.strftime('%d.%m.%Y')} ({p.zone})", pg.body),
        Paragraph(f"<b>{t('inspection.pdf.author')}:</b> {_esc(pg.author)}", pg.body),
        Paragraph(f"<b>{t('inspection.pdf.generated')}:</b> {d.now.strftime('%d.%m.%Y %H:%M')} ({p.zone})", pg.body),
        Paragraph(f"<b>{t('inspection.pdf.counts')}:</b> {counts}", pg.body),
        Spacer(1, 30 * mm),
        Paragraph(t("inspection.pdf.signature"), pg.body),
        PageBreak(),
        Paragraph(t("inspection.pdf.map"), pg.h2),
        Image(io.BytesIO(png), width=w_in * 25.4 * mm, height=h_in * 25.4 * mm),
        Paragraph(t("inspection.pdf.map_note"), pg.small),
        PageBreak(),
    ]


def _kpi_tables(pg: _Page) -> list[Any]:
    d, t, base, small = pg.d, pg.t, pg.base, pg.small
    main = d.kpis["organisations"][0]
    krows = [[Paragraph(f"<b>{x}</b>", base) for x in (t("inspection.col.kpi"), t("inspection.col.value"),
                                                       t("inspection.col.num_den"), t("inspection.col.zone"),
                                                       t("inspection.col.formula"))]]
    styles = list(_HEAD)
    for i, (key, (name, formula)) in enumerate(pg.labels.items(), start=1):
        fig = main["kpis"][key]
        krows.append([Paragraph(name, base), Paragraph(fmt_value(key, fig, t), base),
                      Paragraph(f"{_num(fig['numerator'])} / {_num(fig['denominator'])}", base),
                      Paragraph(pg.zone_text[fig["zone"]], base),
                      Paragraph(formula, small)])
        if fig["zone"]:
            styles.append(("BACKGROUND", (3, i), (3, i), _ZONE_COLOUR[fig["zone"]]))
    story: list[Any] = [
        Paragraph(t("inspection.pdf.kpis"), pg.h2),
        Paragraph(f"{_esc(main['name'] if main['id'] is not None else pg.area_text)} — "
                  f"{t('inspection.zone_overall')}: {pg.zone_text[main['zone']]}", base), Spacer(1, 3 * mm),
        Table(krows, colWidths=[55 * mm, 32 * mm, 28 * mm, 20 * mm, 135 * mm], style=TableStyle(styles)),
        Spacer(1, 3 * mm),
        Paragraph(t("inspection.pdf.guard", n=d.min_count), small)]
    cats = main["kpis"]["by_category"]
    if cats:
        crow = [[Paragraph(f"<b>{x}</b>", base) for x in (t("inspection.col.category"), t("inspection.col.closed"),
                                                          t("inspection.kpi.median_close_h"),
                                                          t("inspection.kpi.p90_close_h"))]]
        for c, f in cats.items():
            crow.append([Paragraph(t(f"incident.category.{c}"), base),
                         Paragraph(str(f["median_close_h"]["denominator"]), base),
                         Paragraph(fmt_value("median_close_h", f["median_close_h"], t), base),
                         Paragraph(fmt_value("p90_close_h", f["p90_close_h"], t), base)])
        story += [Spacer(1, 4 * mm), Paragraph(t("inspection.pdf.by_category"), pg.h2),
                  Table(crow, colWidths=[70 * mm, 30 * mm, 55 * mm, 55 * mm], repeatRows=1,
                        style=TableStyle(_HEAD))]
    if d.org is None and d.bbox is None and len(d.kpis["organisations"]) > 1:
        story += _ranking(pg) + _org_actions(pg)
    return story


def _org_actions(pg: _Page) -> list[Any]:
    """Each organisation's figures from its own actions (accept, visit, resolve, hand back, ratings), in the
    ranking's order, with the formulas under the table."""
    t, small = pg.t, pg.small
    labels = org_action_labels(t)
    head = [[Paragraph(f"<b>{x}</b>", small) for x in (t("inspection.col.org"), *(labels[k][0] for k in labels))]]
    for o in ranking(pg.d.kpis):
        k = o["kpis"]
        head.append([Paragraph(_esc(o["name"]), small)] +
                    [Paragraph(f"{fmt_value(key, k[key], t)}<br/>{_num(k[key]['numerator'])} / "
                               f"{_num(k[key]['denominator'])}", small) for key in labels])
    notes = [Paragraph(f"<b>{name}</b> — {formula}", small) for name, formula in labels.values()]
    return [Spacer(1, 4 * mm), Paragraph(t("inspection.pdf.org_actions"), pg.h2),
            Table(head, repeatRows=1, colWidths=[70 * mm] + [40 * mm] * 5, style=TableStyle(_HEAD)),
            Spacer(1, 2 * mm), *notes, Paragraph(t("inspection.pdf.guard", n=pg.d.min_count), small)]


def _ranking(pg: _Page) -> list[Any]:
    t, small, labels = pg.t, pg.small, pg.labels
    keys = ("on_time", "median_close_h", "answer_5min", "reopened", "repeat_per_1000", "outage_excess_h")
    rrow = [[Paragraph(f"<b>{x}</b>", small) for x in (
        t("inspection.col.org"), t("inspection.col.zone"), *(labels[k][0] for k in keys))]]
    rstyles = list(_HEAD)
    for i, o in enumerate(ranking(pg.d.kpis), start=1):
        k = o["kpis"]
        rrow.append([Paragraph(_esc(o["name"]), small), Paragraph(pg.zone_text[o["zone"]], small)] +
                    [Paragraph(f"{fmt_value(key, k[key], t)}<br/>{_num(k[key]['numerator'])} / "
                               f"{_num(k[key]['denominator'])}", small) for key in keys])
        if o["zone"]:
            rstyles.append(("BACKGROUND", (1, i), (1, i), _ZONE_COLOUR[o["zone"]]))
    return [Spacer(1, 4 * mm), Paragraph(t("inspection.pdf.ranking"), pg.h2),
            Table(rrow, repeatRows=1, colWidths=[60 * mm, 18 * mm] + [33 * mm] * 6, style=TableStyle(rstyles))]


def _report_list(pg: _Page) -> list[Any]:
    d, t, small = pg.d, pg.t, pg.small
    rows, p, now = d.report_rows, d.period, d.now
    lrows = [[Paragraph(f"<b>{x}</b>", small) for x in (
        t("inspection.col.number"), t("inspection.col.category"), t("inspection.col.priority"),
        t("inspection.col.address"), t("inspection.col.org"), t("inspection.col.created"),
        t("inspection.col.deadline"), t("inspection.col.closed"), t("inspection.col.overdue"))]]
    lstyles = list(_HEAD)
    for i, r in enumerate(rows, start=1):
        rep = d.reports.get(r["id"])
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
        lrows.append([f"№{r['id']}", t(f"incident.category.{r['category']}")[:28],
                      t(f"incident.priority.{r['priority']}"),
                      Paragraph(_esc(r["address"] or "—"), small), (r["short_name"] or "—")[:24],
                      pg.dts(r["created_at"]), pg.dts(due),
                      pg.dts(closed) if closed else t(f"incident.status.{r['status']}")[:20], late_txt])
    lstyles += [("FONT", (0, 1), (-1, -1), "DejaVu", 7), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    return [PageBreak(), Paragraph(t("inspection.pdf.reports", n=len(rows)), pg.h2),
            LongTable(lrows, repeatRows=1, colWidths=[16 * mm, 36 * mm, 20 * mm, 62 * mm, 34 * mm, 24 * mm,
                                                      24 * mm, 28 * mm, 22 * mm], style=TableStyle(lstyles))]


def _outage_lists(pg: _Page) -> list[Any]:
    d, t, small = pg.d, pg.t, pg.small
    orow = [[Paragraph(f"<b>{x}</b>", small) for x in (
        t("inspection.col.number"), t("inspection.col.network"), t("inspection.col.start"), t("inspection.col.end"),
        t("inspection.col.hours"), t("inspection.col.buildings"), t("inspection.col.addresses"))]]
    for o in d.outage_rows:
        hours = ((o["actual_end"] or d.now) - o["actual_start"]).total_seconds() / 3600
        orow.append([Paragraph(f"№{o['id']}", small), Paragraph(_esc(pg.network(o["network"]) or "—"), small),
                     Paragraph(pg.dt(o["actual_start"]), small),
                     Paragraph(pg.dt(o["actual_end"]) if o["actual_end"] else t("inspection.ongoing"), small),
                     Paragraph(_dec(hours), small), Paragraph(f"{o['buildings']} ({o['residents']})", small),
                     Paragraph(_esc(o["addresses"] or "—") + (" …" if o["buildings"] > 6 else ""), small)])
    story: list[Any] = [
        PageBreak(), Paragraph(t("inspection.pdf.outages", n=len(d.outage_rows)), pg.h2),
        LongTable(orow, repeatRows=1, colWidths=[16 * mm, 45 * mm, 28 * mm, 28 * mm, 18 * mm, 24 * mm, 107 * mm],
                  style=TableStyle(_HEAD))]
    ex = d.kpis["organisations"][0]["kpis"]["outage_excess_h"].get("buildings") or []
    if ex:
        erow = [[Paragraph(f"<b>{x}</b>", small) for x in (t("inspection.col.address"), t("inspection.col.hours"),
                                                           t("inspection.col.excess"), t("inspection.col.number"))]]
        for b in ex[:200]:
            erow.append([Paragraph(_esc(b["address"] or f"#{b['building_id']}"), small),
                         Paragraph(_dec(b["hours"]), small), Paragraph(_dec(b["excess_h"]), small),
                         Paragraph(", ".join(f"№{i}" for i in b["outage_ids"]), small)])
        story += [Spacer(1, 4 * mm), Paragraph(t("inspection.pdf.excess"), pg.h2),
                  LongTable(erow, repeatRows=1, colWidths=[90 * mm, 25 * mm, 35 * mm, 60 * mm],
                            style=TableStyle(_HEAD))]
    return story


def render(data: InspectionData, *, lang: str = "ru", author: str = "") -> bytes:
    """The PDF (bytes) of ``data`` in ``lang``, signed by ``author``."""
    _fonts()
    _LANG.set(lang)
    pg = _Page(data, lang, author)
    t = pg.t
    pg.area_text = _area_text(pg)
    story = _title_and_map(pg) + _kpi_tables(pg) + _report_list(pg) + _outage_lists(pg)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=15 * mm, title=t("inspection.pdf.title"),
                            author=author, subject=pg.area_text)

    class _Canvas(_Numbered):
        footer = t("inspection.pdf.page")

    doc.build(story, canvasmaker=_Canvas)
    return buf.getvalue()
