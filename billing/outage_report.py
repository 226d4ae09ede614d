"""Outages as ГИС ЖКХ ``importOutageReportRequest`` files (outage-report service, schema 13.x).

``python -m billing outage-report --from DATE --to DATE --out FILE.xml``: every outage that was
not cancelled and whose time (actual start/end, else planned) overlaps the days ``DATE``..``DATE``
(inclusive, in the region's time zone) becomes one ``OutageReport`` placing a report:

- ``TransportGUID``: stable per outage (uuid5 of a fixed namespace and the outage id);
- ``OutageKind`` (НСИ 361): 1 «Плановый» for planned works, 2 «Аварийный» for an emergency;
- ``OutageType``: ``SUSPENSION`` (приостановление: valves closed, the service stops). zhkh-ops
  does not model a partial supply (``LIMITATION``) or a pause (``PAUSE``), so they are not written;
- ``ServiceCodes``: the outage network's resource (1 ХВС, 2 ГВС, 3 водоотведение,
  4 электроснабжение, 5 газ, 6 отопление);
- ``StartDate``/``EndDate``: actual times when known, else the planned ones (an active outage's
  end is its planned end), with the region's UTC offset;
- ``OutageReason`` (НСИ 360): code 3 «Иная» with the outage's own reason as ``OutageReasonText``
  (zhkh-ops keeps reasons as free text, not as registry entries);
- the houses affected: ``FIASHouseGuid`` of every building the outage cut off (``buildings.house_guid``);
  an outage none of whose buildings has a GUID is left out (counted in the summary).

At most 100 reports per request: more go to ``FILE-2.xml``, ``FILE-3.xml``, … Each file is checked
against ``billing/schemas/hcs-outage-report-types.xsd`` before it is written. No outage in the
range: no file is written (the request needs at least one report).

The registry GUIDs of НСИ 360/361 entries are the published codes mapped to stable uuid5 values of
zhkh-ops; replace them with the registry's own GUIDs (``NSI_GUIDS``) once the registry is loaded.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from billing.errors import BillingError

__all__ = ["MAX_REPORTS", "OutageRow", "build_request", "file_names", "outages_between", "schema",
           "write_reports"]

NS = "http://dom.gosuslugi.ru/schema/integration/outage-report/"
BASE = "http://dom.gosuslugi.ru/schema/integration/base/"
NSI = "http://dom.gosuslugi.ru/schema/integration/nsi-base/"
VERSION = "13.2.2.0"
MAX_REPORTS = 100
SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "hcs-outage-report-types.xsd"
SERVICE_CODES = {"cold_water": 1, "hot_water": 2, "sewer": 3, "electricity": 4, "gas": 5, "heating": 6}
KINDS = {"planned": ("1", "Плановый"), "emergency": ("2", "Аварийный")}
REASON_OTHER = ("3", "Иная")
_GUID_NS = uuid.UUID("0b8f3c8e-4d7a-5b1e-9c2f-7e5a1d3b9f60")
NSI_GUIDS = {f"361:{c}": str(uuid.uuid5(_GUID_NS, f"nsi361:{c}")) for c, _ in KINDS.values()}
NSI_GUIDS["360:3"] = str(uuid.uuid5(_GUID_NS, "nsi360:3"))
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class OutageRow:
    id: int
    kind: str
    resource: str
    network: str
    reason: str
    start: datetime
    end: datetime | None
    houses: tuple[str, ...]
    buildings: int


def parse_day(value: str, what: str) -> date:
    """A ``YYYY-MM-DD`` date; ``BillingError`` naming the option otherwise."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise BillingError(f"{what} must be a date YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BillingError(f"{what}: {value!r} is not a calendar date") from None


def outages_between(conn: Connection, start: date, end: date, zone: ZoneInfo) -> tuple[list[OutageRow], int]:
    """Outages overlapping the days ``start``..``end`` (inclusive, local) and how many were left out
    for want of a house GUID."""
    a = datetime.combine(start, time(0), zone)
    b = datetime.combine(end + timedelta(days=1), time(0), zone)
    rows = conn.execute(text("""
        SELECT o.id, o.kind, n.resource, n.name, o.reason, coalesce(o.actual_start, o.planned_start) AS s,
               CASE WHEN o.actual_start IS NOT NULL AND o.actual_end IS NOT NULL THEN o.actual_end
                    ELSE o.planned_end END AS e,
               array_remove(array_agg(b.house_guid::text ORDER BY b.house_guid), NULL) AS houses,
               count(b.id) AS buildings
        FROM outages o JOIN networks n ON n.id = o.network_id
        LEFT JOIN outage_buildings ob ON ob.outage_id = o.id LEFT JOIN buildings b ON b.id = ob.building_id
        WHERE o.state <> 'cancelled' AND coalesce(o.actual_start, o.planned_start) < :b
          AND (CASE WHEN o.actual_start IS NOT NULL AND o.actual_end IS NOT NULL THEN o.actual_end
                    ELSE o.planned_end END) >= :a
        GROUP BY o.id, n.resource, n.name ORDER BY coalesce(o.actual_start, o.planned_start), o.id
    """), {"a": a, "b": b}).all()
    out, skipped = [], 0
    for r in rows:
        if not r.houses:
            skipped += 1
            continue
        out.append(OutageRow(int(r.id), r.kind, r.resource, r.name, r.reason or "", r.s, r.e,
                             tuple(dict.fromkeys(r.houses)), int(r.buildings)))
    return out, skipped


def _clean(value: str, limit: int) -> str:
    value = " ".join(_BAD_XML.sub(" ", value).split())
    return value[:limit]


def _nsi(parent: Any, tag: str, registry: str, code: str, name: str) -> None:
    from lxml import etree

    el = etree.SubElement(parent, f"{{{NS}}}{tag}")
    etree.SubElement(el, f"{{{NSI}}}Code").text = code
    etree.SubElement(el, f"{{{NSI}}}GUID").text = NSI_GUIDS[f"{registry}:{code}"]
    etree.SubElement(el, f"{{{NSI}}}Name").text = name


def build_request(outages: list[OutageRow], zone: ZoneInfo) -> Any:
    """The ``importOutageReportRequest`` element of up to 100 outages."""
    from lxml import etree

    if not 1 <= len(outages) <= MAX_REPORTS:
        raise BillingError(f"a request holds 1..{MAX_REPORTS} reports, got {len(outages)}")
    root = etree.Element(f"{{{NS}}}importOutageReportRequest", nsmap={None: NS, "base": BASE, "nsi-base": NSI})
    root.set("Id", "zhkh-ops-outage-report")
    root.set(f"{{{BASE}}}version", VERSION)
    for o in outages:
        if o.resource not in SERVICE_CODES:
            raise BillingError(f"outage #{o.id}: resource {o.resource!r} has no ГИС ЖКХ service code")
        rep = etree.SubElement(root, f"{{{NS}}}OutageReport")
        etree.SubElement(rep, f"{{{BASE}}}TransportGUID").text = str(uuid.uuid5(_GUID_NS, f"outage:{o.id}"))
        placing = etree.SubElement(rep, f"{{{NS}}}PlacingOutageReport")
        data = etree.SubElement(placing, f"{{{NS}}}OutageReportData")
        code, name = KINDS.get(o.kind, KINDS["emergency"])
        _nsi(data, "OutageKind", "361", code, name)
        etree.SubElement(data, f"{{{NS}}}OutageType").text = "SUSPENSION"
        codes = etree.SubElement(data, f"{{{NS}}}ServiceCodes")
        etree.SubElement(codes, f"{{{NS}}}ServiceCode").text = str(SERVICE_CODES[o.resource])
        etree.SubElement(data, f"{{{NS}}}StartDate").text = o.start.astimezone(zone).isoformat(timespec="seconds")
        if o.end is not None:
            etree.SubElement(data, f"{{{NS}}}EndDate").text = o.end.astimezone(zone).isoformat(timespec="seconds")
        _nsi(data, "OutageReason", "360", *REASON_OTHER)
        what = "Плановые работы" if o.kind == "planned" else "Аварийные работы"
        reason = _clean(o.reason, 3000) or f"{what} на сети «{_clean(o.network, 200)}»"
        etree.SubElement(data, f"{{{NS}}}OutageReasonText").text = reason
        etree.SubElement(data, f"{{{NS}}}AdditionalInfo").text = (
            f"zhkh-ops outage #{o.id}; houses: {len(o.houses)}")
        objects = etree.SubElement(placing, f"{{{NS}}}OutageReportObjects")
        houses = etree.SubElement(objects, f"{{{NS}}}Houses")
        for guid in o.houses:
            etree.SubElement(houses, f"{{{NS}}}FIASHouseGuid").text = guid
    return root


def schema() -> Any:
    """The XSD the files are checked against (``billing/schemas``)."""
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))


def file_names(out: Path, count: int) -> list[Path]:
    """``FILE.xml``, ``FILE-2.xml``, … for ``count`` files."""
    return [out if i == 0 else out.with_name(f"{out.stem}-{i + 1}{out.suffix or '.xml'}") for i in range(count)]


def write_reports(outages: list[OutageRow], out: Path, zone: ZoneInfo) -> list[Path]:
    """Write the outages, 100 per file, each file validated first; the files written."""
    from lxml import etree

    if not outages:
        return []
    if not out.parent.is_dir():
        raise BillingError(f"--out {out}: directory {out.parent} does not exist")
    xsd = schema()
    chunks = [outages[i:i + MAX_REPORTS] for i in range(0, len(outages), MAX_REPORTS)]
    docs = []
    for chunk in chunks:
        root = build_request(chunk, zone)
        if not xsd.validate(root):
            err = xsd.error_log.last_error
            raise BillingError(f"the request does not match the schema: line {err.line}: {err.message}")
        docs.append(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    paths = file_names(out, len(docs))
    for path, doc in zip(paths, docs):
        tmp = path.with_name(path.name + ".part")
        try:
            tmp.write_bytes(doc)
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise BillingError(f"cannot write {path}: {exc.strerror or exc}") from None
    return paths
