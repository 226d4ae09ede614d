"""Use-cases of data: import a utility's file (preview and diff first, then an explicit confirmation)
and reload the demo city. Admin only; every load is audited with the file's checksum and the counts
before and after."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from auth.model import Actor
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
    from data.importers import preview_import as preview

    return preview(engine(bind), path, **options)


def _audit_import(actor: Actor, action: str, source: str):
    def write(conn: Connection, report: Any) -> None:
        audit.record(conn, actor=actor.author, action=action, object_type="network", object_id=report.network_id,
                     details={"file": source, "checksum": report.checksum, "network": report.network,
                              "dataset": report.dataset, "counts_before": report.counts_before,
                              "counts_after": report.counts_after,
                              "diff": report.diff.summary() if report.diff is not None else None})
    return write


def import_file(actor: Actor, path: Path, *, source_name: str | None = None, expected_revision: int | None = None,
                bind: Engine | None = None, **options: Any) -> Any:
    """Load a validated file in one transaction (refused while the network has an open outage, or when it
    changed since the preview ``expected_revision``); the audit row is written in the same transaction."""
    allow(actor, "data.import")
    from data.importers import import_file as load

    return load(engine(bind), path, expected_revision=expected_revision,
                audit=_audit_import(actor, "data.import", source_name or path.name), **options)


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
    from data.demo import demo_counts, load_demo

    load_demo(engine(bind), seed=s.demo_seed, network_name=s.demo_network_name, progress=progress,
              audit=_audit_import(actor, "demo.reload", f"demo seed {s.demo_seed}"))
    return demo_counts(engine(bind), s.demo_network_name)
