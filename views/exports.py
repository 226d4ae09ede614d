"""Exports of a shutoff plan for people: the crew sheet as a printable PDF and as CSV (headers in the
page's language, the report's number and the date on every row, coordinates to 6 decimals), the
addresses cut off as CSV, and the plan as GeoJSON with the buildings too. File names carry the report
or outage number and the time."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import shapely

from csv_safe import csv_bytes
from views.common import t
from views.formatting import label


@dataclass(frozen=True)
class SheetContext:
    """What a sheet is about: the report and/or outage numbers, where, and when it was made."""

    made_at: datetime
    timezone: str
    incident_id: int | None = None
    outage_id: int | None = None
    where: str = ""

    @property
    def local(self) -> datetime:
        return self.made_at.astimezone(ZoneInfo(self.timezone))

    def file_name(self, what: str, ext: str) -> str:
        """e.g. ``crew-sheet_report-12_outage-3_2026-11-27_1405.pdf``."""
        parts = [what]
        if self.incident_id is not None:
            parts.append(f"report-{self.incident_id}")
        if self.outage_id is not None:
            parts.append(f"outage-{self.outage_id}")
        parts.append(self.local.strftime("%Y-%m-%d_%H%M"))
        return "_".join(parts) + f".{ext}"

    def title(self) -> str:
        bits = []
        if self.outage_id is not None:
            bits.append(t("export.outage_no", id=self.outage_id))
        if self.incident_id is not None:
            bits.append(t("export.report_no", id=self.incident_id))
        return " · ".join(bits) or t("export.plan")


def _coord(value: Any) -> str:
    return "" if value is None else f"{float(value):.6f}"


def crew_table(shape: Any) -> tuple[list[str], list[list[str]]]:
    """The crew sheet as (headers, rows) in the page's language: valves to close in order, then the
    optional ones."""
    headers = [t("plan.col.order"), t("plan.col.valve"), t("export.col.action"), t("plan.col.street"),
               t("plan.col.lat"), t("plan.col.lon"), t("export.col.done")]
    rows = [[str(v["order"]), str(v.get("ext_id") or v["id"]), t("export.action.close"), v.get("street") or "",
             _coord(v.get("lat")), _coord(v.get("lon")), ""] for v in shape.valves]
    rows += [["", str(v.get("ext_id") or v["id"]), t("export.action.optional"), v.get("street") or "",
              _coord(v.get("lat")), _coord(v.get("lon")), ""] for v in shape.optional]
    return headers, rows


def _csv(headers: list[str], rows: list[list[str]], ctx: SheetContext) -> bytes:
    """UTF-8 with a BOM (Excel opens it correctly); every text cell guarded against formulas (csv_safe)."""
    stamp = ctx.local.strftime("%d.%m.%Y %H:%M")
    return csv_bytes([t("export.col.report"), t("export.col.outage"), t("export.col.date"), *headers],
                     ([ctx.incident_id or "", ctx.outage_id or "", stamp, *r] for r in rows))


def crew_csv(shape: Any, ctx: SheetContext) -> bytes:
    return _csv(*crew_table(shape), ctx)


def addresses_csv(shape: Any, ctx: SheetContext) -> bytes:
    headers = [t("plan.col.address"), t("plan.col.kind"), t("plan.col.residents"), t("plan.col.unintended")]
    rows = [[b.get("address") or "", label("kind", b.get("kind")), str(int(b.get("residents") or 0)),
             t("plan.yes") if b.get("unintended") else ""] for b in shape.buildings]
    return _csv(headers, rows, ctx)


def geojson(shape: Any) -> dict[str, Any]:
    """The plan's pipes (isolated, unintended) and valves (close, optional) as a FeatureCollection."""
    feats: list[dict[str, Any]] = []
    for role, ids in (("isolated", shape.isolated), ("unintended", shape.unintended)):
        feats += [{"type": "Feature", "geometry": shape.geoms[i], "properties": {"role": role, "pipe_id": i}}
                  for i in ids if i in shape.geoms]
    for role, valves in (("close", shape.valves), ("optional", shape.optional)):
        feats += [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [v["lon"], v["lat"]]},
                   "properties": {"role": role, "valve_id": v["id"], "ext_id": v.get("ext_id"),
                                  "order": v.get("order"), "street": v.get("street")}}
                  for v in valves if v.get("lon") is not None]
    return {"type": "FeatureCollection", "features": feats}


def plan_geojson(shape: Any, buildings: Any | None) -> dict[str, Any]:
    """The plan as a FeatureCollection: pipes (isolated, unintended), valves (close, optional) and the
    buildings cut off (``buildings``: a GeoDataFrame with id, or None)."""

    out = geojson(shape)
    if buildings is not None and len(buildings):
        info = {int(b["id"]): b for b in shape.buildings}
        for row in buildings.itertuples():
            b = info.get(int(row.id), {})
            out["features"].append({"type": "Feature", "geometry": json.loads(_shape_json(row.geometry)),
                                    "properties": {"role": "building", "building_id": int(row.id),
                                                   "address": b.get("address"), "kind": b.get("kind"),
                                                   "residents": int(b.get("residents") or 0),
                                                   "unintended": bool(b.get("unintended"))}})
    return out


def _shape_json(geom: Any) -> str:

    return shapely.to_geojson(geom)


def _font() -> str:
    """A TrueType font with Cyrillic (DejaVu Sans: matplotlib ships it; Debian has it too)."""
    from reportlab.pdfbase import pdfmetrics  # heavy: loaded only when a PDF is drawn
    from reportlab.pdfbase.ttfonts import TTFont  # heavy: loaded only when a PDF is drawn

    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        import matplotlib  # heavy: loaded only when a figure is drawn

        candidates = [Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf",
                      Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")]
        path = next(p for p in candidates if p.exists())
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(path)))
    return "DejaVuSans"


def crew_pdf(shape: Any, ctx: SheetContext) -> bytes:
    """The crew sheet on A4: the report and outage, the valves in order with coordinates and a box to
    tick, the optional valves, the addresses cut off (critical customers first), page numbers."""
    from reportlab.lib import colors  # heavy: loaded only when a PDF is drawn
    from reportlab.lib.pagesizes import A4  # heavy: loaded only when a PDF is drawn
    from reportlab.lib.styles import ParagraphStyle  # heavy: loaded only when a PDF is drawn
    from reportlab.lib.units import mm  # heavy: loaded only when a PDF is drawn
    from reportlab.platypus import (
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )  # heavy: loaded only when a PDF is drawn

    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=15, leading=19, spaceAfter=4)
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=12)
    head = ParagraphStyle("head", fontName=font, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=4)

    def esc(value: str) -> str:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def table(headers: list[str], rows: list[list[str]], widths: list[float]) -> Table:
        data = [[Paragraph(esc(h), body) for h in headers]] + [[Paragraph(esc(c), body) for c in r] for r in rows]
        tbl = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
        tbl.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), font)]))
        return tbl

    buf = io.BytesIO()

    def page_number(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, t("export.page", n=doc.page))
        canvas.drawString(15 * mm, 10 * mm, f"{t('export.crew_sheet')} · {ctx.title()}")
        canvas.restoreState()

    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=f"{t('export.crew_sheet')} {ctx.title()}")
    c = shape.counts
    story: list[Any] = [
        Paragraph(esc(f"{t('export.crew_sheet')} — {ctx.title()}"), title),
        Paragraph(esc(t("export.made", at=ctx.local.strftime("%d.%m.%Y %H:%M"), tz=ctx.timezone)), body),
    ]
    if ctx.where:
        story.append(Paragraph(esc(t("export.where", where=ctx.where)), body))
    story.append(Paragraph(esc(t("export.summary", valves=c["valves"], buildings=c["buildings"],
                                 residents=c["residents"], critical=c["critical"])), body))
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph(esc(t("plan.crew")), head))
    headers, rows = crew_table(shape)
    story.append(table(headers, rows, [11, 24, 24, 44, 25, 25, 27]))
    story.append(Paragraph(esc(t("plan.affected")), head))
    story.append(table([t("plan.col.address"), t("plan.col.kind"), t("plan.col.residents"), t("plan.col.unintended")],
                       [[b.get("address") or "", label("kind", b.get("kind")), str(int(b.get("residents") or 0)),
                         t("plan.yes") if b.get("unintended") else ""] for b in shape.buildings],
                       [80, 40, 25, 35]))
    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return buf.getvalue()
