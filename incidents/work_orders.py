"""A report as its responsible organisation's work order: the organisation's actions on it (each an event
with a client-chosen ``event_id``, stored once), its crew, planned visit, answer and photos.

SQL and rules only; the caller (``ops.orgs``) checks the actor's rights and scope, owns the transaction
and writes the audit event in it."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from incidents.errors import IncidentError

KINDS: tuple[str, ...] = ("accepted", "assigned", "visit_planned", "resolved", "returned", "on_the_way", "arrived")
#: what a crew may do on its own work order (the rest is the organisation's desk)
FIELD_KINDS: frozenset[str] = frozenset({"visit_planned", "resolved", "on_the_way", "arrived"})
#: a crew's own steps on the way to a resolution (the phone page): recorded, no organisation state changes
STEP_KINDS: frozenset[str] = frozenset({"on_the_way", "arrived"})
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
MAX_TEXT_CHARS = 4000
#: photos: what is accepted as sent, and the most kept after re-encoding
PHOTO_TYPES: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: formats taken and stored in another: a phone's HEIC (pillow-heif decodes it) becomes a JPEG
CONVERTED: dict[str, str] = {"HEIF": "JPEG"}
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000
MAX_PHOTO_SIDE = 2048      # the longer side is scaled down to this on the server
MAX_PHOTOS = 5


class WorkOrderError(IncidentError):
    """A work-order action refused for its input (400)."""


class WorkOrderConflict(IncidentError):
    """A work-order action refused for the work order's state, or an ``event_id`` already used for
    another action (409)."""


@dataclass(frozen=True)
class WorkOrderEvent:
    id: int
    event_id: str
    incident_id: int
    org_id: int
    kind: str
    text: str
    visit_at: datetime | None
    crew_login: str | None
    author: str
    at: datetime
    done_at: datetime | None = None   # when the crew acted by its phone's clock (sent later when offline)
    lat: float | None = None          # where the phone was, when the crew allowed geolocation
    lon: float | None = None


_EVENT_COLUMNS = "id, event_id, incident_id, org_id, kind, text, visit_at, crew_login, author, at, done_at, lat, lon"


def event_by_id(conn: Connection, org_id: int, event_id: str) -> WorkOrderEvent | None:
    """The event ``event_id`` of ``org_id`` (ids are unique per organisation)."""
    row = conn.execute(text(f"SELECT {_EVENT_COLUMNS} FROM work_order_events WHERE org_id = :o AND event_id = :e"),
                       {"o": org_id, "e": event_id}).mappings().first()
    return WorkOrderEvent(**row) if row else None


def insert_event(conn: Connection, *, event_id: str, incident_id: int, org_id: int, kind: str, body: str,
                 visit_at: datetime | None, crew_login: str | None, author: str, at: datetime,
                 done_at: datetime | None = None, lat: float | None = None,
                 lon: float | None = None) -> WorkOrderEvent | None:
    """The stored event, or None when ``event_id`` was taken meanwhile (a concurrent retry)."""
    row = conn.execute(text(f"""
        INSERT INTO work_order_events (event_id, incident_id, org_id, kind, text, visit_at, crew_login, author, at,
                                       done_at, lat, lon)
        VALUES (:e, :i, :o, :k, :t, :v, :c, :a, :at, :d, :lat, :lon)
        ON CONFLICT (org_id, event_id) DO NOTHING RETURNING {_EVENT_COLUMNS}
    """), {"e": event_id, "i": incident_id, "o": org_id, "k": kind, "t": body, "v": visit_at, "c": crew_login,
           "a": author, "at": at, "d": done_at, "lat": lat, "lon": lon}).mappings().first()
    return WorkOrderEvent(**row) if row else None


def events_of(conn: Connection, incident_id: int, org_id: int | None = None) -> list[WorkOrderEvent]:
    """The events of a work order, in time order; with ``org_id``, that organisation's only (a report handed
    back and given to another one keeps the first one's events, which are none of the second's business)."""
    mine = "" if org_id is None else " AND org_id = :o"
    rows = conn.execute(text(f"SELECT {_EVENT_COLUMNS} FROM work_order_events WHERE incident_id = :i{mine} "
                             "ORDER BY at, id"), {"i": incident_id, "o": org_id}).mappings().all()
    return [WorkOrderEvent(**r) for r in rows]


def lock_order(conn: Connection, incident_id: int) -> dict[str, Any] | None:
    """The work-order fields of a report, its row locked for this transaction."""
    row = conn.execute(text("""
        SELECT id, status, responsible_org_id, org_state, crew_login, visit_at, created_at
        FROM incidents WHERE id = :i FOR UPDATE
    """), {"i": incident_id}).mappings().first()
    return dict(row) if row else None


_UPDATABLE = frozenset({"org_state", "org_accepted_at", "crew_login", "visit_at", "org_answer", "org_resolved_at",
                        "responsible_org_id"})


def update_order(conn: Connection, incident_id: int, **values: Any) -> None:
    if not values or set(values) - _UPDATABLE:
        raise ValueError(f"cannot update {sorted(set(values) - _UPDATABLE)}")
    sets = ", ".join(f"{k} = :{k}" for k in values)
    conn.execute(text(f"UPDATE incidents SET {sets}, updated_at = now(), version = version + 1 WHERE id = :id"),
                 {**values, "id": incident_id})


def crew_of(conn: Connection, login: str, org_id: int) -> str | None:
    """The login of an active crew account of ``org_id`` (None: no such crew there)."""
    return conn.execute(text("""
        SELECT login FROM users WHERE login = lower(:l) AND role = 'crew' AND org_id = :o AND active
    """), {"l": login, "o": org_id}).scalar()


def crews(conn: Connection, org_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text("""
        SELECT login, display_name FROM users WHERE role = 'crew' AND org_id = :o AND active ORDER BY login
    """), {"o": org_id}).mappings().all()
    return [dict(r) for r in rows]


# ---- photos ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Photo:
    """A photo as stored: re-encoded by the server (never the bytes as sent), metadata dropped."""

    content_type: str
    width: int
    height: int
    data: bytes
    taken_at: datetime | None = None   # sent as fields by the phone (never read from the image)
    lat: float | None = None
    lon: float | None = None


def normalise_photo(raw: bytes) -> Photo:
    """Decode a JPEG, PNG, WebP or HEIC, scale its longer side to ``MAX_PHOTO_SIDE`` at most and re-encode it
    in its own format (HEIC as JPEG: what every browser shows) without any metadata (EXIF, text chunks);
    ``WorkOrderError`` otherwise."""
    # Pillow: an optional dependency (it comes with Streamlit); imported only where a photo is decoded
    import pillow_heif
    from PIL import Image, UnidentifiedImageError

    pillow_heif.register_heif_opener()   # idempotent: HEIC/HEIF becomes a format Image.open knows

    if len(raw) > MAX_PHOTO_BYTES:
        raise WorkOrderError(f"a photo may be at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB, got {len(raw)} bytes")
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            kind = probe.format or ""
            if kind not in PHOTO_TYPES and kind not in CONVERTED:
                raise WorkOrderError(f"a photo must be JPEG, PNG, WebP or HEIC, got {kind or 'an unknown format'}")
            if probe.width * probe.height > MAX_PHOTO_PIXELS:
                raise WorkOrderError(f"a photo may have at most {MAX_PHOTO_PIXELS} pixels")
            probe.load()
            img = probe.convert("RGBA" if kind == "PNG" and probe.mode in ("RGBA", "LA", "P") else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, WorkOrderError):
            raise
        raise WorkOrderError("the photo could not be read as an image (JPEG, PNG, WebP or HEIC)") from exc
    kind = CONVERTED.get(kind, kind)
    img.thumbnail((MAX_PHOTO_SIDE, MAX_PHOTO_SIDE))
    out = io.BytesIO()
    img.save(out, format=kind, **({"quality": 85} if kind in ("JPEG", "WEBP") else {}))
    return Photo(PHOTO_TYPES[kind], img.width, img.height, out.getvalue())


def insert_photo(conn: Connection, *, incident_id: int, event_row_id: int, photo: Photo, author: str,
                 at: datetime) -> int:
    return int(conn.execute(text("""
        INSERT INTO work_order_photos (incident_id, event_id, content_type, width, height, data, author, at,
                                       taken_at, lat, lon)
        VALUES (:i, :e, :t, :w, :h, :d, :a, :at, :ta, :lat, :lon) RETURNING id
    """), {"i": incident_id, "e": event_row_id, "t": photo.content_type, "w": photo.width, "h": photo.height,
           "d": photo.data, "a": author, "at": at, "ta": photo.taken_at, "lat": photo.lat,
           "lon": photo.lon}).scalar_one())


def photos_of(conn: Connection, incident_id: int, org_id: int | None = None) -> list[dict[str, Any]]:
    """The photos of a work order (id, type, size, author, time; not the bytes); with ``org_id``, those of
    that organisation's own events only."""
    rows = conn.execute(text("""
        SELECT p.id, p.content_type, p.width, p.height, octet_length(p.data) AS bytes, p.author, p.at, p.taken_at,
               p.lat, p.lon
        FROM work_order_photos p LEFT JOIN work_order_events e ON e.id = p.event_id
        WHERE p.incident_id = :i AND (CAST(:o AS integer) IS NULL OR e.org_id = :o) ORDER BY p.id
    """), {"i": incident_id, "o": org_id}).mappings().all()
    return [dict(r) for r in rows]
