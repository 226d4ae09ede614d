"""The incident state machine (pure: no database, no clock).

::

    new ─► accepted ─► dispatched ─► in_progress ─► resolved ─► closed
     └──────┴────────────┴──────────────┴─► rejected | duplicate | cancelled
                                      resolved ─► in_progress (reopened: the leak is back)
              accepted ─────────────────────────► resolved   (nothing to send a crew for: a report
                                                              explained by an outage is accepted when
                                                              it is linked and resolved with the outage)

``rejected``, ``duplicate``, ``cancelled`` and ``closed`` are final.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incidents.errors import InvalidTransition

STATUSES: tuple[str, ...] = (
    "new", "accepted", "dispatched", "in_progress", "resolved",
    "closed", "rejected", "duplicate", "cancelled",
)
OPEN_STATUSES: frozenset[str] = frozenset({"new", "accepted", "dispatched", "in_progress"})
FINAL_STATUSES: frozenset[str] = frozenset({"closed", "rejected", "duplicate", "cancelled"})
_ABANDON = frozenset({"rejected", "duplicate", "cancelled"})

ALLOWED: dict[str, frozenset[str]] = {
    "new": frozenset({"accepted"}) | _ABANDON,
    "accepted": frozenset({"dispatched", "resolved"}) | _ABANDON,
    "dispatched": frozenset({"in_progress"}) | _ABANDON,
    "in_progress": frozenset({"resolved"}) | _ABANDON,
    "resolved": frozenset({"closed", "in_progress"}),
    "closed": frozenset(),
    "rejected": frozenset(),
    "duplicate": frozenset(),
    "cancelled": frozenset(),
}

# Open311 has two statuses; everything that still needs work is "open".
OPEN311_STATUS: dict[str, str] = {s: ("open" if s in OPEN_STATUSES else "closed") for s in STATUSES}


@dataclass(frozen=True)
class Event:
    """One status change, as stored in ``incident_events``."""

    from_status: str | None
    to_status: str
    actor: str
    note: str
    at: datetime


def allowed_targets(status: str) -> frozenset[str]:
    """Statuses reachable from ``status`` in one step (empty for final states)."""
    if status not in ALLOWED:
        raise InvalidTransition(status, "?")
    return ALLOWED[status]


def transition(incident_state: str, to: str, actor: str, note: str, now: datetime) -> Event:
    """The event that moves an incident from ``incident_state`` to ``to``.

    Raises ``InvalidTransition`` (naming both states) when the workflow does not allow it, and
    ``ValueError`` for an empty actor or a naive ``now`` (every decision has an author and a
    time zone-aware timestamp).
    """
    if incident_state not in ALLOWED or to not in ALLOWED[incident_state]:
        raise InvalidTransition(incident_state, to)
    if not actor or not actor.strip():
        raise ValueError("transition needs an actor (who made the decision), got an empty string")
    if now.tzinfo is None:
        raise ValueError(f"transition needs a time zone-aware 'now', got naive {now.isoformat()}")
    return Event(from_status=incident_state, to_status=to, actor=actor.strip(), note=note or "", at=now)


FORWARD: tuple[str, ...] = ("new", "accepted", "dispatched", "in_progress", "resolved", "closed")


def path_to(status: str, target: str) -> list[str]:
    """The statuses an incident passes through to reach ``target`` going forward (each one a
    history event), or [] when it is there already, past it, or in a final state. The shortest way:
    an accepted report reaches ``resolved`` in one step (a report explained by an outage is never
    dispatched on its own — the outage's crew works on its cause)."""
    if status in FINAL_STATUSES or status not in FORWARD or target not in FORWARD:
        return []
    here, there = FORWARD.index(status), FORWARD.index(target)
    if there <= here:
        return []
    path = list(FORWARD[here + 1:there + 1])
    if status == "accepted" and there >= FORWARD.index("resolved"):
        path = [s for s in path if s not in ("dispatched", "in_progress")]
    return path


def creation_event(actor: str, now: datetime, note: str = "") -> Event:
    """The first event of every incident (from nothing to ``new``)."""
    return Event(from_status=None, to_status="new", actor=actor or "system", note=note, at=now)
