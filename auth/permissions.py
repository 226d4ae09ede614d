"""The permission matrix: which role may do what, and which pages each role sees.

This table is the one place rights are decided; ``ops`` checks it in every use-case (the pages
only hide what a role cannot use). ``docs/rights.md`` shows the same matrix for people.
"""
from __future__ import annotations

from auth.errors import PermissionDenied

ROLES: tuple[str, ...] = ("operator", "dispatcher", "planner", "inspector", "admin")

_ALL = frozenset(ROLES)

# permission -> roles that hold it
MATRIX: dict[str, frozenset[str]] = {
    # reading: everyone signed in (inspectors read everything)
    "map.read": _ALL,
    "reports.read": _ALL,
    "outages.read": _ALL,
    "network.read": _ALL,          # includes computing a shutoff plan (a what-if, nothing stored)
    # reports
    "reports.take": frozenset({"operator", "dispatcher", "admin"}),
    "reports.edit": frozenset({"operator", "dispatcher", "admin"}),   # status changes, duplicates
    "notes.write": _ALL,           # add a note to a report; edit only one's own notes
    # outages and valves
    "outages.plan": frozenset({"dispatcher", "planner", "admin"}),    # schedule planned works
    "outages.approve": frozenset({"dispatcher", "admin"}),            # approve, valves closed, extend, merge
    "outages.restore": frozenset({"dispatcher", "admin"}),
    "outages.cancel": frozenset({"dispatcher", "planner", "admin"}),
    "valves.mark": frozenset({"dispatcher", "planner", "admin"}),     # stuck / repaired
    # data and administration
    "data.import": frozenset({"admin"}),
    "demo.reload": frozenset({"admin"}),
    "users.manage": frozenset({"admin"}),
    "audit.read": frozenset({"inspector", "admin"}),
    # billing: a month's charges (run, close) and the ГИС ЖКХ outage export
    "billing.run": frozenset({"admin"}),
    "billing.close": frozenset({"admin"}),
    "billing.export": frozenset({"dispatcher", "admin"}),
    # the inspectorate: KPIs, signed PDF reports; who answers for a report
    "inspection.read": frozenset({"dispatcher", "inspector", "admin"}),
    "reports.assign_org": frozenset({"dispatcher", "admin"}),
    "balance.read": frozenset({"dispatcher", "planner", "inspector", "admin"}),   # DMA water balance, night flow
}
PERMISSIONS: tuple[str, ...] = tuple(MATRIX)

# page (url path) -> the permission that opens it
PAGES: dict[str, str] = {
    "control": "outages.read",
    "map": "map.read",
    "intake": "reports.take",
    "incidents": "reports.read",
    "outages": "outages.read",
    "planner": "network.read",
    "data": "data.import",
    "users": "users.manage",
    "audit": "audit.read",
    "inspection": "inspection.read",
    "balance": "balance.read",
}
# the pages each role sees, in navigation order (a role's first page is its start page)
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "operator": ("intake", "incidents", "outages", "map"),
    "dispatcher": ("control", "incidents", "intake", "outages", "planner", "map", "inspection", "balance"),
    "planner": ("planner", "outages", "map", "incidents", "balance"),
    "inspector": ("inspection", "incidents", "outages", "map", "control", "planner", "audit", "balance"),
    "admin": ("control", "incidents", "intake", "outages", "planner", "map", "data", "users", "audit", "inspection", "balance"),
}


def allowed(role: str | None, permission: str) -> bool:
    """True when ``role`` holds ``permission`` (an unknown permission is a programming error)."""
    if permission not in MATRIX:
        raise KeyError(f"unknown permission {permission!r}")
    return role in MATRIX[permission]


def require(role: str | None, permission: str, *, who: str = "") -> None:
    """Raise ``PermissionDenied`` naming the permission when ``role`` does not hold it."""
    if not allowed(role, permission):
        raise PermissionDenied(permission, role, who)


def pages_for(role: str | None) -> tuple[str, ...]:
    """The pages ``role`` sees (none for an unknown role)."""
    return ROLE_PAGES.get(role or "", ())
