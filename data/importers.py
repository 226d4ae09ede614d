"""Importing a utility's own data: GeoPackage / GeoJSON / Shapefile layers and EPANET .inp models.

Public API (the app's data page calls these)::

    validate_file(path, *, kind=None, layer=None, crs=None, offset=None, valves=None) -> list[str]
    preview_import(engine, path, *, kind=None, layer=None, network=None, resource="cold_water", crs=None,
                   offset=None, valves=None, settings=None) -> ImportPreview
    import_file(engine, path, *, kind=None, layer=None, network=None, resource="cold_water", crs=None,
                dry_run=False, progress=None, offset=None, valves=None, expected_revision=None, audit=None,
                settings=None) -> ImportReport

The file is validated first (every problem collected; ValidationFailed, nothing written), then
merged into the network and building dataset of the same name by the source's own ids, in one
transaction (:mod:`data.merge`). See ``docs/importing.md``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine

from data import merge
from data.diff import ImportDiff, ImportPreview
from data.errors import DataError, ValidationFailed
from data.prepare import Prepared, Progress, prepare_file
from settings import Settings

RESOURCES = ("cold_water", "hot_water", "heating", "gas", "sewer")


@dataclass
class ImportReport:
    """What an import wrote (or, with ``dry_run``, would write)."""

    source: str
    network: str | None = None
    network_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)   # in the file (+ service connections made)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    checksum: str = ""                                      # SHA-256 of the file
    dataset: str | None = None
    network_revision: int | None = None                     # after the import
    counts_before: dict[str, int] = field(default_factory=dict)  # rows of the network / dataset per kind
    counts_after: dict[str, int] = field(default_factory=dict)
    diff: ImportDiff | None = None                          # None: a dry run without a database

    def summary(self) -> str:
        what = ", ".join(f"{v} {k}" for k, v in self.counts.items()) or "nothing"
        target = f'network "{self.network}"' if self.network else \
            f'building dataset "{self.dataset}"' if self.dataset else ""
        if self.diff is not None and self.diff.empty and not self.dry_run:
            return f"{self.source}: nothing changed in {target} ({what} already there)"
        verb = "would import" if self.dry_run else "imported"
        changes = f" — {self.diff.summary()}" if self.diff is not None else ""
        return f"{self.source}: {verb} {what}{' into ' + target if target else ''}{changes}"


Audit = Callable[[Connection, ImportReport], None]


def _noop(stage: str, fraction: float) -> None:
    return None


def validate_file(
    path: str | Path, *, kind: str | None = None, layer: str | list[str] | None = None, crs: str | None = None,
    offset: tuple[float, float] | None = None, valves: str | Path | None = None,
) -> list[str]:
    """Every problem that would stop importing ``path`` (an unreadable file gives one); [] if none."""
    try:
        prepare_file(Path(path), kind=kind, layer=layer, crs=crs, offset=offset,
                     valves=Path(valves) if valves else None)
    except ValidationFailed as exc:
        return list(exc.problems)
    except DataError as exc:
        return [str(exc)]
    return []


def read_file(
    path: str | Path, *, kind: str | None = None, layer: str | list[str] | None = None, crs: str | None = None,
    offset: tuple[float, float] | None = None, valves: str | Path | None = None, progress: Progress | None = None,
) -> Prepared:
    """The validated file, for ``preview_prepared`` and ``import_prepared`` (read once, used twice)."""
    return prepare_file(Path(path), kind=kind, layer=layer, crs=crs, offset=offset,
                        valves=Path(valves) if valves else None, progress=progress or _noop)


def _target(prep: Prepared, network: str | None, resource: str) -> merge.Target:
    if resource not in RESOURCES:
        raise DataError(f"{prep.source}: --resource {resource!r}: expected one of {', '.join(RESOURCES)}")
    name = network or Path(prep.source).stem
    return merge.Target(network=name if prep.load.has_network else None,
                        dataset=name if prep.load.buildings is not None else None,
                        resource=resource, source_file=prep.source, crs=prep.crs)


def preview_prepared(engine: Engine, prep: Prepared, *, network: str | None = None, resource: str = "cold_water",
                     settings: Settings | None = None) -> ImportPreview:
    """What importing ``prep`` would change; computed in a transaction that is rolled back."""
    target = _target(prep, network, resource)
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            st = merge.preview(conn, target, prep.load, merge.Snap.from_settings(settings))
        finally:
            tx.rollback()
    net = st.network
    return ImportPreview(
        source=prep.source, checksum=prep.checksum, network=target.network or (net.name if net else None),
        dataset=target.dataset,
        network_exists=net is not None, network_id=net.id if net else None,
        network_revision=net.revision if net else None, counts=prep.counts(), counts_before=st.counts_before,
        diff=st.diff, busy_outages=tuple(st.busy), warnings=tuple(prep.warnings), notes=tuple(prep.notes),
    )


def preview_import(
    engine: Engine, path: str | Path, *, kind: str | None = None, layer: str | list[str] | None = None,
    network: str | None = None, resource: str = "cold_water", crs: str | None = None,
    offset: tuple[float, float] | None = None, valves: str | Path | None = None, settings: Settings | None = None,
) -> ImportPreview:
    """Validate ``path`` and compute its diff against the database without writing anything.

    Raises ValidationFailed / DataError as ``import_file`` does (ResourceMismatch included).
    Outages that would refuse the import are listed in ``busy_outages``, not raised. Pass
    ``network_revision`` to ``import_file(expected_revision=...)`` so that an import confirmed on
    this preview is refused (StalePreview) if the network changed in between.
    """
    prep = read_file(path, kind=kind, layer=layer, crs=crs, offset=offset, valves=valves)
    return preview_prepared(engine, prep, network=network, resource=resource, settings=settings)


def import_prepared(
    engine: Engine | None, prep: Prepared, *, network: str | None = None, resource: str = "cold_water",
    dry_run: bool = False, progress: Progress | None = None, expected_revision: int | None = None,
    audit: Audit | None = None, settings: Settings | None = None,
) -> ImportReport:
    """Merge a validated file in one transaction (see ``import_file``)."""
    progress = progress or _noop
    target = _target(prep, network, resource)
    report = ImportReport(source=prep.source, network=target.network, dataset=target.dataset,
                          counts=prep.counts(), warnings=list(prep.warnings), notes=list(prep.notes),
                          dry_run=dry_run, checksum=prep.checksum)
    if dry_run:
        if engine is not None:
            pv = preview_prepared(engine, prep, network=network, resource=resource, settings=settings)
            report.diff, report.counts_before = pv.diff, pv.counts_before
            report.network_id, report.network_revision = pv.network_id, pv.network_revision
        return report
    if engine is None:
        raise DataError(f"{prep.source}: no database engine given (pass one, or use dry_run)")
    with engine.begin() as conn:
        result = merge.merge(conn, target, prep.load, merge.Snap.from_settings(settings), expected_revision=expected_revision,
                             progress=progress)
        report.network_id = result.network_id if target.network else None
        report.network_revision = result.revision if target.network else None
        report.counts_before, report.counts_after, report.diff = (result.counts_before, result.counts_after,
                                                                  result.diff)
        if target.network and target.dataset and "service_connections" in result.counts_after:
            report.counts["service_connections"] = result.counts_after["service_connections"]
        if audit is not None:
            audit(conn, report)  # inside the transaction: if it raises, nothing is written
    return report


def import_file(
    engine: Engine | None, path: str | Path, *, kind: str | None = None, layer: str | list[str] | None = None,
    network: str | None = None, resource: str = "cold_water", crs: str | None = None, dry_run: bool = False,
    progress: Progress | None = None, offset: tuple[float, float] | None = None,
    valves: str | Path | None = None, expected_revision: int | None = None, audit: Audit | None = None,
    settings: Settings | None = None,
) -> ImportReport:
    """Validate ``path`` and merge it into the database in one transaction.

    The nodes, pipes and valves go into network ``network`` (default: the file name without its
    suffix), the buildings into the building dataset of the same name; rows are matched by the
    source's ids and updated in place (``docs/importing.md``). ``progress(stage, fraction)`` is
    called as the load goes (read, validate, nodes, pipes, valves, buildings, connections).
    ``expected_revision``: refuse (StalePreview) unless the network is still at that revision.
    ``audit(conn, report)`` runs inside the transaction right before the commit.
    ``dry_run``: validate and count; with an engine, also compute the diff (nothing written).

    Raises ValidationFailed / DataError (NetworkBusy, StalePreview, ResourceMismatch, …);
    nothing is written then.
    """
    progress = progress or _noop
    prep = read_file(path, kind=kind, layer=layer, crs=crs, offset=offset, valves=valves, progress=progress)
    return import_prepared(engine, prep, network=network, resource=resource, dry_run=dry_run, progress=progress,
                           expected_revision=expected_revision, audit=audit, settings=settings)
