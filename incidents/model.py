"""Plain records of the incidents domain (no database code)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Incident:
    """One report as stored (``lon``/``lat`` in WGS 84). Free text is raw: escape it on output."""

    id: int
    category: str
    resource: str
    priority: str
    status: str
    channel: str
    service_code: str
    lon: float
    lat: float
    address: str | None
    building_id: int | None
    pipe_id: int | None
    network_id: int | None
    description: str
    reporter_name: str | None
    reporter_phone: str | None
    reporter_email: str | None
    media_url: str | None
    attributes: dict[str, Any]
    duplicate_of: int | None
    outage_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    client_token: str | None = None
    outage_end: datetime | None = None   # the expected end of the outage it is linked to (read, not stored)
    description_private: bool = False   # the operator hid the description from public views
    public_token: str | None = None     # the report's page on the residents' side: /report/<token>
    responsible_org_id: int | None = None   # the organisation that answers for it (reports.orgs)
    # the organisation's side of it (a work order): accepted → assigned → visit_planned → resolved
    org_state: str | None = None
    org_accepted_at: datetime | None = None
    crew_login: str | None = None
    visit_at: datetime | None = None     # the planned visit the resident sees
    org_answer: str | None = None
    org_resolved_at: datetime | None = None


@dataclass(frozen=True)
class DuplicateCandidate:
    """An open incident of the same category near a new report."""

    incident_id: int
    status: str
    distance_m: float
    created_at: datetime
    address: str | None


@dataclass(frozen=True)
class OutageLink:
    """The active outage that explains a report (and when water comes back)."""

    outage_id: int
    state: str
    reason: str
    expected_end: datetime


@dataclass(frozen=True)
class IntakeResult:
    """What ``create_incident`` returns: the stored incident and what the dispatcher should know."""

    incident: Incident
    created: bool                      # False when the client token had been used already
    duplicate_candidates: list[DuplicateCandidate] = field(default_factory=list)
    outage: OutageLink | None = None
    due_at: datetime | None = None

    @property
    def expected_at(self) -> datetime | None:
        """When the resident can expect a fix: the outage's end if one explains the report."""
        return self.outage.expected_end if self.outage else self.due_at


@dataclass(frozen=True)
class QueueItem:
    """An incident with its deadline and SLA state at ``now`` (computed, never stored)."""

    incident: Incident
    due_at: datetime
    sla_state: str
    minutes_left: float


@dataclass(frozen=True)
class Outage:
    """A shutoff: ``planned`` (approved or scheduled, valves not yet closed) → ``active`` (valves
    closed, the water is off) → ``restored``; or ``cancelled`` before it starts. ``kind`` is
    ``emergency`` (a break) or ``planned`` (works announced ahead). ``valve_ids`` are in crew order."""

    id: int
    network_id: int | None
    state: str
    reason: str
    incident_id: int | None
    pipe_ids: list[int]
    unintended_pipe_ids: list[int]
    valve_ids: list[int]
    optional_valve_ids: list[int]
    planned_start: datetime
    planned_end: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    created_by: str
    approved_by: str
    version: int
    kind: str = "emergency"
    break_pipe_ids: list[int] = field(default_factory=list)
    started_by: str | None = None
    ended_by: str | None = None
    buildings: int = 0
    residents: int = 0
    geojson: str | None = None


@dataclass(frozen=True)
class ControlRoomKpis:
    """The figures at the top of the dispatcher's control room."""

    open: int
    overdue: int
    at_risk: int
    due_within_1h: int
    new_unanswered: int
    active_outages: int
    buildings_without_water: int
    residents_without_water: int
    open_by_category: dict[str, int]
