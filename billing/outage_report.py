"""Outages as ГИС ЖКХ ``importOutageReportRequest`` files (outage-report service, schema 13.2.2.0), valid
against the official schema set carried unchanged in ``billing/schemas/gis-zhkh/`` (see its README.txt).

``python -m billing outage-report --from DATE --to DATE --out FILE.xml``: the outages whose time (actual
start/end, else planned) overlaps the days ``DATE``..``DATE`` (inclusive, in the region's time zone) are
compared with what was sent before (table ``gis_outage_reports``) and only what changed is written:

- a planned outage never sent → ``PlacingOutageReport`` (``TransportGUID`` = uuid5 of a fixed namespace
  and the outage id, then ``…:v<n>`` for the n-th send);
- a planned outage sent before whose report changed (new end, grown or shrunk area, …) →
  ``EditOutageReport`` with the ``OutageReportGUID`` the service assigned to it (recorded from its
  ``getStateResult`` by ``python -m billing outage-report-result``); until that GUID is recorded the
  outage is listed as waiting, not sent;
- a cancelled outage that was sent → ``AnnulmentOutageReport`` with the reason of its cancellation;
- an emergency outage is not sent: the schema documents that the service accepts only ``OutageKind`` 1
  «Плановый» (НСИ 361). It is listed for the operator.

``OutageKind`` and ``OutageReason`` come from the НСИ file (``billing.gis_nsi``): 361 code 1, and the
planned 360 reason named as the outage's reason, else 3 «Иная» with the reason as ``OutageReasonText``.
Houses are named by ``FiasHouseGUID`` (``buildings.house_guid`` is the ФИАС house GUID). A file whose НСИ
GUIDs or house GUIDs are demo placeholders says so (an XML comment and ``AdditionalInfo``).

At most 100 reports per request: more go to ``FILE-2.xml``, ``FILE-3.xml``, … Every document is checked
with two validators against the official schema (libxml2 through lxml, and the ``xmlschema`` package,
which also enforces ``base:version fixed="13.2.2.0"``) before anything is written.
"""
from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import Connection, text

from billing.errors import BillingError
from billing.gis_nsi import Nsi
from billing.house_guid import house_guid

__all__ = ["MAX_REPORTS", "OutageRow", "Operation", "ExportPlan", "SCHEMA_DIR", "SCHEMA_FILE", "build_request",
           "file_names", "outages_between", "plan_export", "read_results", "record_sent", "schema_errors",
           "serialize", "validators", "write_files"]

NS = "http://dom.gosuslugi.ru/schema/integration/outage-report/"
BASE = "http://dom.gosuslugi.ru/schema/integration/base/"
NSI = "http://dom.gosuslugi.ru/schema/integration/nsi-base/"
VERSION = "13.2.2.0"
MAX_REPORTS = 100
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "gis-zhkh"
SCHEMA_FILE = SCHEMA_DIR / "outage-report" / "hcs-outage-report-types.xsd"
SERVICE_CODES = {"cold_water": 1, "hot_water": 2, "sewer": 3, "electricity": 4, "gas": 5, "heating": 6}
HOUSE_TAG = "FiasHouseGUID"   # the ФИАС house GUID (the alternative, HouseGUID, is ГИС ЖКХ's own registry id)
UNSENT_HASH = "0" * 64   # a send the service refused: the next run sends the outage again
_GUID_NS = uuid.UUID("0b8f3c8e-4d7a-5b1e-9c2f-7e5a1d3b9f60")
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
DEMO_NOTE = ("ДЕМО / DEMO: НСИ or house GUIDs in this file are placeholders of zhkh-ops, not registry values; "
             "not for submission to ГИС ЖКХ")


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
    state: str = "restored"
    cancel_reason: str = ""
    demo_houses: bool = False


@dataclass
class Operation:
    outage: OutageRow
    operation: str                # placing | edit | annulment
    transport_guid: str
    report_guid: str | None
    content_hash: str
    version: int                  # the n-th send of this outage
    element: Any = None           # the OutageReport element


@dataclass
class ExportPlan:
    operations: list[Operation] = field(default_factory=list)
    emergency: list[OutageRow] = field(default_factory=list)      # cannot be placed (OutageKind 1 only)
    awaiting_guid: list[OutageRow] = field(default_factory=list)  # changed, but the service's GUID unknown
    unchanged: int = 0
    without_house_guid: int = 0
    demo: bool = False


def parse_day(value: str, what: str) -> date:
    """A ``YYYY-MM-DD`` date; ``BillingError`` naming the option otherwise."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise BillingError(f"{what} must be a date YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BillingError(f"{what}: {value!r} is not a calendar date") from None


def outages_between(conn: Connection, start: date, end: date, zone: ZoneInfo) -> tuple[list[OutageRow], int]:
    """Outages (cancelled ones too) overlapping the days ``start``..``end`` (inclusive, local), and how many
    were left out for want of a house GUID."""
    a = datetime.combine(start, time(0), zone)
    b = datetime.combine(end + timedelta(days=1), time(0), zone)
    rows = conn.execute(text("""
        SELECT o.id, o.kind, o.state, n.resource, n.name, o.reason, coalesce(o.actual_start, o.planned_start) AS s,
               CASE WHEN o.actual_start IS NOT NULL AND o.actual_end IS NOT NULL THEN o.actual_end
                    ELSE o.planned_end END AS e,
               coalesce(array_agg(ARRAY[b.house_guid::text, b.dataset, b.ext_id::text]
                                  ORDER BY b.house_guid) FILTER (WHERE b.house_guid IS NOT NULL), '{}') AS houses,
               count(b.id) AS buildings,
               (SELECT ae.reason FROM audit_events ae WHERE ae.object_type = 'outage' AND ae.object_id = o.id::text
                  AND ae.action = 'outage.cancel' ORDER BY ae.at DESC, ae.id DESC LIMIT 1) AS cancel_reason
        FROM outages o JOIN networks n ON n.id = o.network_id
        LEFT JOIN outage_buildings ob ON ob.outage_id = o.id LEFT JOIN buildings b ON b.id = ob.building_id
        WHERE coalesce(o.actual_start, o.planned_start) < :b
          AND (CASE WHEN o.actual_start IS NOT NULL AND o.actual_end IS NOT NULL THEN o.actual_end
                    ELSE o.planned_end END) >= :a
        GROUP BY o.id, n.resource, n.name ORDER BY coalesce(o.actual_start, o.planned_start), o.id
    """), {"a": a, "b": b}).all()
    out, skipped = [], 0
    for r in rows:
        houses = list(r.houses or [])
        if not houses:
            if r.state != "cancelled":
                skipped += 1
            continue
        guids = tuple(dict.fromkeys(h[0] for h in houses))
        demo = any(str(house_guid(h[1], h[2])) == h[0] for h in houses)  # billing demo's GUID
        out.append(OutageRow(int(r.id), r.kind, r.resource, r.name, r.reason or "", r.s, r.e, guids,
                             int(r.buildings), r.state, r.cancel_reason or "", demo))
    return out, skipped


def _clean(value: str, limit: int) -> str:
    value = " ".join(_BAD_XML.sub(" ", value).split())
    return value[:limit]


def _nsi(parent: Any, tag: str, entry: Any) -> None:

    el = etree.SubElement(parent, f"{{{NS}}}{tag}")
    etree.SubElement(el, f"{{{NSI}}}Code").text = entry.code
    etree.SubElement(el, f"{{{NSI}}}GUID").text = entry.guid
    etree.SubElement(el, f"{{{NSI}}}Name").text = entry.name


def _report_content(o: OutageRow, nsi: Nsi, zone: ZoneInfo, demo: bool) -> tuple[Any, Any]:
    """The ``OutageReportData`` and ``OutageReportObjects`` of a placing or an edit."""

    if o.resource not in SERVICE_CODES:
        raise BillingError(f"outage #{o.id}: resource {o.resource!r} has no ГИС ЖКХ service code")
    data = etree.Element(f"{{{NS}}}OutageReportData")
    _nsi(data, "OutageKind", nsi.planned)
    etree.SubElement(data, f"{{{NS}}}OutageType").text = "SUSPENSION"
    codes = etree.SubElement(data, f"{{{NS}}}ServiceCodes")
    etree.SubElement(codes, f"{{{NS}}}ServiceCode").text = str(SERVICE_CODES[o.resource])
    etree.SubElement(data, f"{{{NS}}}StartDate").text = o.start.astimezone(zone).isoformat(timespec="seconds")
    if o.end is not None:
        etree.SubElement(data, f"{{{NS}}}EndDate").text = o.end.astimezone(zone).isoformat(timespec="seconds")
    named = nsi.reason_named(o.reason) if o.reason.strip() else None
    _nsi(data, "OutageReason", named or nsi.other_reason)
    if named is None:
        reason = _clean(o.reason, 3000) or f"Плановые работы на сети «{_clean(o.network, 200)}»"
        etree.SubElement(data, f"{{{NS}}}OutageReasonText").text = reason
    info = f"zhkh-ops outage #{o.id}; houses: {len(o.houses)}"
    etree.SubElement(data, f"{{{NS}}}AdditionalInfo").text = f"{DEMO_NOTE}. {info}" if demo else info
    objects = etree.Element(f"{{{NS}}}OutageReportObjects")
    houses = etree.SubElement(objects, f"{{{NS}}}Houses")
    for guid in o.houses:
        etree.SubElement(houses, f"{{{NS}}}{HOUSE_TAG}").text = guid
    return data, objects


def _hash(*elements: Any) -> str:

    h = hashlib.sha256()
    for el in elements:
        h.update(etree.tostring(el, method="c14n"))
    return h.hexdigest()


def _transport_guid(outage_id: int, version: int) -> str:
    key = f"outage:{outage_id}" if version == 1 else f"outage:{outage_id}:v{version}"
    return str(uuid.uuid5(_GUID_NS, key))


def load_sent(conn: Connection, ids: list[int]) -> dict[int, Any]:
    """What was sent of each outage (rows of ``gis_outage_reports``)."""
    if not ids:
        return {}
    rows = conn.execute(text("SELECT * FROM gis_outage_reports WHERE outage_id = ANY(:ids)"), {"ids": ids}).all()
    return {int(r.outage_id): r for r in rows}


def plan_export(outages: list[OutageRow], sent: dict[int, Any], nsi: Nsi, zone: ZoneInfo) -> ExportPlan:
    """What to send of each outage, given what was sent before."""

    plan = ExportPlan()
    for o in outages:
        s = sent.get(o.id)
        version = (int(s.sent_version) + 1) if s is not None else 1
        demo = nsi.demo or o.demo_houses
        if o.state == "cancelled":
            if s is None or (s.report_guid is None and s.content_hash == UNSENT_HASH and s.operation == "placing"):
                continue  # never placed: nothing to annul
            reason = _clean(o.cancel_reason, 1000) or "Перерыв отменён: работы не проводятся"
            ann = etree.Element(f"{{{NS}}}AnnulmentOutageReport")
            guid_el = etree.SubElement(ann, f"{{{NS}}}OutageReportGUID")
            etree.SubElement(ann, f"{{{NS}}}AnnulmentReason").text = reason
            digest = _hash(ann)
            if s.operation == "annulment" and s.content_hash == digest:
                plan.unchanged += 1
                continue
            if s.report_guid is None:
                plan.awaiting_guid.append(o)
                continue
            guid_el.text = str(s.report_guid)
            plan.operations.append(Operation(o, "annulment", _transport_guid(o.id, version), str(s.report_guid),
                                             digest, version, ann))
            plan.demo |= bool(s.nsi_demo)
            continue
        if o.kind != "planned":
            plan.emergency.append(o)
            continue
        data, objects = _report_content(o, nsi, zone, demo)
        digest = _hash(data, objects)
        if s is not None and s.content_hash == digest:
            plan.unchanged += 1
            continue
        if s is not None and s.operation == "annulment":
            continue  # annulled in ГИС ЖКХ: a cancelled outage does not come back
        if s is None or (s.report_guid is None and s.content_hash == UNSENT_HASH):
            op = etree.Element(f"{{{NS}}}PlacingOutageReport")
            op.extend([data, objects])
            plan.operations.append(Operation(o, "placing", _transport_guid(o.id, version), None, digest, version, op))
        elif s.report_guid is None:
            plan.awaiting_guid.append(o)
            continue
        else:
            op = etree.Element(f"{{{NS}}}EditOutageReport")
            etree.SubElement(op, f"{{{NS}}}OutageReportGUID").text = str(s.report_guid)
            op.extend([data, objects])
            plan.operations.append(Operation(o, "edit", _transport_guid(o.id, version), str(s.report_guid), digest,
                                             version, op))
        plan.demo |= demo
    return plan


def build_request(operations: list[Operation], *, demo: bool = False) -> Any:
    """The ``importOutageReportRequest`` element of 1..100 operations."""

    if not 1 <= len(operations) <= MAX_REPORTS:
        raise BillingError(f"a request holds 1..{MAX_REPORTS} reports, got {len(operations)}")
    root = etree.Element(f"{{{NS}}}importOutageReportRequest", nsmap={None: NS, "base": BASE, "nsi-base": NSI})
    root.set("Id", "zhkh-ops-outage-report-demo" if demo else "zhkh-ops-outage-report")
    root.set(f"{{{BASE}}}version", VERSION)  # fixed="13.2.2.0" in the schema
    for op in operations:
        rep = etree.SubElement(root, f"{{{NS}}}OutageReport")
        etree.SubElement(rep, f"{{{BASE}}}TransportGUID").text = op.transport_guid
        rep.append(op.element)
    return root


def serialize(root: Any, *, demo: bool = False) -> bytes:

    body = etree.tostring(root, encoding="UTF-8", pretty_print=True)
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    if demo:
        head += f"<!-- {DEMO_NOTE} -->\n".encode()
    return head + body


@lru_cache(maxsize=1)
def validators() -> tuple[Any, Any]:
    """The official outage-report schema, compiled by lxml (libxml2) and by the ``xmlschema`` package."""
    import xmlschema  # the second validator, loaded only when a ГИС ЖКХ file is checked

    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE))), xmlschema.XMLSchema(str(SCHEMA_FILE))


def schema_errors(document: bytes) -> dict[str, str | None]:
    """Each validator's first complaint about ``document`` (``None`` = valid)."""

    lx, xs = validators()
    try:
        root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return {"lxml": f"not XML: {exc}", "xmlschema": f"not XML: {exc}"}
    out: dict[str, str | None] = {"lxml": None, "xmlschema": None}
    if not lx.validate(root):
        err = lx.error_log.last_error
        out["lxml"] = f"line {err.line}: {err.message}"
    err2 = next(iter(xs.iter_errors(root)), None)
    if err2 is not None:
        out["xmlschema"] = f"{err2.path or '/'}: {err2.reason}"
    return out


def check_document(document: bytes, what: str) -> None:
    """``BillingError`` (one line) unless both validators accept ``document``."""
    errors = {k: v for k, v in schema_errors(document).items() if v}
    if errors:
        detail = "; ".join(f"{k}: {' '.join(v.split())[:300]}" for k, v in errors.items())
        raise BillingError(f"{what} does not match the official ГИС ЖКХ schema (outage-report {VERSION}): {detail}")


def file_names(out: Path, count: int) -> list[Path]:
    """``FILE.xml``, ``FILE-2.xml``, … for ``count`` files."""
    return [out if i == 0 else out.with_name(f"{out.stem}-{i + 1}{out.suffix or '.xml'}") for i in range(count)]


def documents(plan: ExportPlan) -> list[tuple[list[Operation], bytes]]:
    """The request documents of the plan, 100 operations each, every one validated (nothing written)."""
    ops = plan.operations
    chunks = [ops[i:i + MAX_REPORTS] for i in range(0, len(ops), MAX_REPORTS)]
    docs = []
    for n, chunk in enumerate(chunks, 1):
        doc = serialize(build_request(chunk, demo=plan.demo), demo=plan.demo)
        check_document(doc, f"request {n} of {len(chunks)}")
        docs.append((chunk, doc))
    return docs


def write_files(docs: list[bytes], out: Path) -> list[Path]:
    """Write the documents (each through a ``.part`` file); on a failure none stays written."""
    if not out.parent.is_dir():
        raise BillingError(f"--out {out}: directory {out.parent} does not exist")
    paths = file_names(out, len(docs))
    written: list[Path] = []
    try:
        for path, doc in zip(paths, docs):
            tmp = path.with_name(path.name + ".part")
            try:
                tmp.write_bytes(doc)
                tmp.replace(path)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise BillingError(f"cannot write {path}: {exc.strerror or exc}") from None
            written.append(path)
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return paths


def record_sent(conn: Connection, chunks: list[tuple[list[Operation], Path]], *, actor: str, now: datetime,
                nsi_demo: bool) -> None:
    """Remember what each operation sent (one row per outage)."""
    for ops, path in chunks:
        for op in ops:
            conn.execute(text("""
                INSERT INTO gis_outage_reports (outage_id, transport_guid, report_guid, operation, content_hash,
                                                sent_version, first_sent_at, sent_at, sent_by, file, nsi_demo)
                VALUES (:o, :t, :r, :op, :h, :v, :now, :now, :by, :f, :demo)
                ON CONFLICT (outage_id) DO UPDATE SET transport_guid = :t, report_guid = coalesce(:r,
                    gis_outage_reports.report_guid), operation = :op, content_hash = :h, sent_version = :v,
                    sent_at = :now, sent_by = :by, file = :f, nsi_demo = :demo, acknowledged_at = NULL
            """), {"o": op.outage.id, "t": op.transport_guid, "r": op.report_guid, "op": op.operation,
                   "h": op.content_hash, "v": op.version, "now": now, "by": actor, "f": str(path),
                   "demo": nsi_demo or op.outage.demo_houses})


def read_results(conn: Connection, document: bytes, *, now: datetime) -> dict[str, Any]:
    """Record the service's answer (``getStateResult`` of the outage-report service): the
    ``OutageReportGUID`` it assigned to each placed report, and which sends it refused (those are sent
    again by the next export)."""

    check_document(document, "the result file")
    root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    if root.tag != f"{{{NS}}}getStateResult":
        raise BillingError(f"the result file is a {etree.QName(root).localname}, not a getStateResult of the "
                           "outage-report service")
    out: dict[str, Any] = {"accepted": 0, "refused": [], "unknown": 0}
    for res in root.findall(f"{{{NS}}}ImportResult"):
        transport = res.findtext(f"{{{BASE}}}TransportGUID").strip().lower()
        row = conn.execute(text("SELECT outage_id, operation FROM gis_outage_reports WHERE transport_guid = :t"),
                           {"t": transport}).first()
        if row is None:
            out["unknown"] += 1
            continue
        errors = res.findall(f"{{{BASE}}}Error")
        if errors:
            msg = "; ".join(" ".join(f"{e.findtext(f'{{{BASE}}}ErrorCode') or ''} "
                                     f"{e.findtext(f'{{{BASE}}}Description') or ''}".split()) for e in errors)
            conn.execute(text("UPDATE gis_outage_reports SET content_hash = :h, acknowledged_at = :now "
                              "WHERE outage_id = :o"), {"h": UNSENT_HASH, "now": now, "o": row.outage_id})
            out["refused"].append({"outage_id": int(row.outage_id), "operation": row.operation, "error": msg[:500]})
            continue
        guid = (res.findtext(f"{{{BASE}}}GUID") or "").strip().lower() or None
        conn.execute(text("UPDATE gis_outage_reports SET report_guid = coalesce(report_guid, :g), acknowledged_at = :now "
                          "WHERE outage_id = :o"), {"g": guid, "now": now, "o": row.outage_id})
        out["accepted"] += 1
    return out
