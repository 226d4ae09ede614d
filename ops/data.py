"""Use-cases of data: import a utility's file (preview and diff first, then an explicit confirmation)
and reload the demo city. Admin only; every load is audited with the file's checksum and the counts
before and after."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from auth.model import Actor
from data.demo import demo_counts, load_demo
from data.importers import import_file as load
from data.importers import preview_import as preview
from gis import network_repo
from ops import audit
from ops.base import allow, engine
from ops.errors import ConfirmationMismatch, NotAllowedHere
from settings import Settings, get_settings


def counts(actor: Actor, *, bind: Engine | None = None) -> list[dict[str, Any]]:
    """What the database holds per network."""
    allow(actor, "map.read")
    with engine(bind).connect() as conn:
        return network_repo.network_counts(conn)


def preview_import(actor: Actor, path: Path, *, bind: Engine | None = None, **options: Any) -> Any:
    """Validate a file and compute what importing it would change (nothing is written)."""
    allow(actor, "data.import")

    return preview(engine(bind), path, **options)


def import_recorder(actor: Actor, action: str, source: str | None = None):  # -> Callable[[Connection, ImportReport], None]
    """The ``audit`` callback of an import or a demo load (the importer calls it inside its transaction):
    ``action`` by ``actor`` about the network (or the building dataset), with the file (``source``, else the
    report's), its checksum, the counts before and after, the diff and the reports re-linked."""
    def write(conn: Connection, report: Any) -> None:
        if report.network_id is not None:
            object_type, object_id = "network", str(report.network_id)
        else:
            object_type, object_id = "dataset", report.dataset
        audit.record(conn, actor=actor.author, action=action, object_type=object_type, object_id=object_id,
                     details={"file": source or report.source, "checksum": report.checksum,
                              "network": report.network, "dataset": report.dataset,
                              "counts_before": report.counts_before, "counts_after": report.counts_after,
                              "diff": report.diff.summary() if report.diff is not None else None,
                              "relinked_reports": [r.incident_id for r in report.diff.relinks]
                              if report.diff is not None else []})
    return write


def import_file(actor: Actor, path: Path, *, source_name: str | None = None, expected_revision: int | None = None,
                bind: Engine | None = None, **options: Any) -> Any:
    """Load a validated file in one transaction (refused while the network has an open outage, or when it
    changed since the preview ``expected_revision``); the audit row is written in the same transaction."""
    allow(actor, "data.import")

    return load(engine(bind), path, expected_revision=expected_revision,
                audit=import_recorder(actor, "data.import", source_name or path.name), **options)


def reload_demo(actor: Actor, *, confirmation: str, settings: Settings | None = None,
                bind: Engine | None = None, progress: Any = None) -> dict[str, Any]:
    """Rebuild the demo city (ids kept where nothing changed). Refused on a production server, and
    unless ``confirmation`` is the demo network's name typed out."""
    allow(actor, "demo.reload")
    s = settings or get_settings()
    if s.env == "production":
        raise NotAllowedHere("the demo city is never loaded on a production server (ZHKH_ENV=production)")
    if confirmation.strip() != s.demo_network_name:
        raise ConfirmationMismatch(f"type the network's name {s.demo_network_name!r} to confirm the reload")

    load_demo(engine(bind), seed=s.demo_seed, network_name=s.demo_network_name, progress=progress,
              audit=import_recorder(actor, "demo.reload", f"demo seed {s.demo_seed}"))
    return demo_counts(engine(bind), s.demo_network_name)
