"""What an import changes in the database, as plain typed records (no database access here).

``ImportDiff`` is computed by :mod:`data.store` from the staged file and the rows in place: per
kind (nodes, pipes, valves, buildings) the ids added, removed and changed; the reports
(incidents) whose pipe or building would go, and where each would be re-linked; the outages
whose pipes, valves or buildings would be removed or changed. ``summary()`` is one line;
``tables()`` gives lists of flat dicts the Data page shows as tables.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("nodes", "pipes", "valves", "buildings")
SAMPLE = 5  # ext ids named per kind and change


@dataclass(frozen=True)
class KindDiff:
    """Changes of one kind; ``*_ids`` are the first ``SAMPLE`` ext ids (sorted) of each change."""

    kind: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    added_ids: tuple[str, ...] = ()
    removed_ids: tuple[str, ...] = ()
    changed_ids: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        parts = [f"{n} {what}" for n, what in ((self.added, "added"), (self.removed, "removed"),
                                                (self.changed, "changed")) if n]
        return f"{self.kind}: {', '.join(parts) or 'no change'}"


@dataclass(frozen=True)
class Relink:
    """A report (incident) whose pipe or building the import removes, and where it goes."""

    incident_id: int
    link: str                      # "pipe" | "building"
    old_id: int                    # database id of the pipe / building that goes
    old_ext_id: str
    new_ext_id: str | None         # the nearest one within the intake snap distance; None: the link is cleared
    new_dataset: str | None = None  # buildings: the dataset of the new building
    distance_m: float | None = None

    def describe(self) -> str:
        target = f"{self.link} {self.new_ext_id} ({self.distance_m:.0f} m)" if self.new_ext_id else "nothing"
        return f"report {self.incident_id}: {self.link} {self.old_ext_id} goes, re-linked to {target}"


@dataclass(frozen=True)
class OutageImpact:
    """An outage (any state) some of whose pipes, valves or buildings are removed or changed."""

    outage_id: int
    state: str
    pipes: tuple[str, ...] = ()
    valves: tuple[str, ...] = ()
    buildings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportDiff:
    kinds: tuple[KindDiff, ...] = ()
    relinks: tuple[Relink, ...] = ()
    outages: tuple[OutageImpact, ...] = ()

    def kind(self, name: str) -> KindDiff:
        for k in self.kinds:
            if k.kind == name:
                return k
        return KindDiff(name)

    @property
    def empty(self) -> bool:
        return all(k.empty for k in self.kinds)

    def summary(self) -> str:
        """One line: ``pipes: 1 added, 1 removed; 2 reports re-linked; 1 outage touched`` or ``no changes``."""
        parts = [k.summary() for k in self.kinds if not k.empty]
        if self.relinks:
            cleared = sum(1 for r in self.relinks if r.new_ext_id is None)
            parts.append(f"{len(self.relinks)} report(s) re-linked" + (f" ({cleared} unlinked)" if cleared else ""))
        if self.outages:
            parts.append(f"{len(self.outages)} outage(s) touched ({', '.join(str(o.outage_id) for o in self.outages)})")
        return "; ".join(parts) or "no changes"

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """``changes`` (one row per kind), ``reports`` (re-links) and ``outages``, as lists of flat dicts."""
        return {
            "changes": [{"kind": k.kind, "added": k.added, "removed": k.removed, "changed": k.changed,
                         "unchanged": k.unchanged, "added (sample)": ", ".join(k.added_ids),
                         "removed (sample)": ", ".join(k.removed_ids),
                         "changed (sample)": ", ".join(k.changed_ids)} for k in self.kinds],
            "reports": [{"report": r.incident_id, "link": r.link, "old": r.old_ext_id, "new": r.new_ext_id,
                         "distance_m": None if r.distance_m is None else round(r.distance_m, 1)}
                        for r in self.relinks],
            "outages": [{"outage": o.outage_id, "state": o.state, "pipes": ", ".join(o.pipes),
                         "valves": ", ".join(o.valves), "buildings": ", ".join(o.buildings)}
                        for o in self.outages],
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (for an audit row)."""
        return asdict(self)


@dataclass(frozen=True)
class ImportPreview:
    """What importing a file would do, computed without writing anything."""

    source: str
    checksum: str                       # SHA-256 of the file's bytes
    network: str | None                 # None: the file has no network (buildings only)
    dataset: str | None                 # building dataset; None: the file has no buildings
    network_exists: bool
    network_id: int | None
    network_revision: int | None        # pass it to import_file(expected_revision=...)
    counts: dict[str, int] = field(default_factory=dict)         # in the file
    counts_before: dict[str, int] = field(default_factory=dict)  # in the database now
    diff: ImportDiff = field(default_factory=ImportDiff)
    busy_outages: tuple[int, ...] = ()  # planned / active outages that make the import refused
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def network_part_exists(self) -> bool:
        """The file has a network and a network of that name is in the database."""
        return self.network_exists and "pipes" in self.counts

    @property
    def target_exists(self) -> bool:
        """The import would change rows already in place: the file's network exists, or its
        buildings go into a dataset that has some."""
        return self.network_part_exists or ("buildings" in self.counts and bool(self.counts_before.get("buildings")))

    def summary(self) -> str:
        where = [f'network "{self.network}"' + (f" (revision {self.network_revision})" if self.network_exists
                                                 else " (new)")] if self.network else []
        if self.dataset and self.dataset != self.network:
            where.append(f'building dataset "{self.dataset}"')
        busy = f"; refused: outages planned or active ({', '.join(map(str, self.busy_outages))})" \
            if self.busy_outages else ""
        return f"{self.source} → {' and '.join(where) or 'nothing'}: {self.diff.summary()}{busy}"

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        return self.diff.tables()
