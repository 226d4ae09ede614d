"""The permission matrix: which role may do what, and which pages each role sees.

This table is the one place rights are decided; ``ops`` checks it in every use-case (the pages
only hide what a role cannot use). ``docs/rights.md`` shows the same matrix for people.
"""
from __future__ import annotations

from auth.errors import PermissionDenied

ROLES: tuple[str, ...] = ("operator", "dispatcher", "planner", "inspector", "admin", "org_dispatcher", "crew")
#: Roles of an organisation's staff: each account is bound to one organisation (``users.org_id``) and sees
#: only that organisation's reports (``ops.scope``).
ORG_ROLES: frozenset[str] = frozenset({"org_dispatcher", "crew"})

_SERVICE = frozenset(ROLES) - ORG_ROLES
_ALL = frozenset(ROLES)

# permission -> roles that hold it
MATRIX: dict[str, frozenset[str]] = {
    # reading: everyone signed in (inspectors read everything)
    "map.read": _SERVICE,
    "reports.read": _ALL,          # an organisation's staff: only their organisation's reports (ops.scope)
    "outages.read": _SERVICE,
    "network.read": _SERVICE,      # includes computing a shutoff plan (a what-if, nothing stored)
    # reports
    "reports.take": frozenset({"operator", "dispatcher", "admin"}),
    "reports.edit": frozenset({"operator", "dispatcher", "admin"}),   # status changes, duplicates
    "notes.write": _ALL,           # add a note to a report; edit only one's own notes
    # an organisation's desk: accept, assign to a crew, plan a visit, resolve, hand back ("not ours")
    "orders.desk": frozenset({"org_dispatcher"}),   # the organisation's own staff only: every answer is theirs
    # a crew's own work orders: plan its visit, resolve it
    "orders.field": frozenset({"crew"}),
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
    "desk": "orders.desk",
    "webhooks": "users.manage",
}
# the pages each role sees, in navigation order (a role's first page is its start page)
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "operator": ("intake", "incidents", "outages", "map"),
    "dispatcher": ("control", "incidents", "intake", "outages", "planner", "map", "inspection", "balance"),
    "planner": ("planner", "outages", "map", "incidents", "balance"),
    "inspector": ("inspection", "incidents", "outages", "map", "control", "planner", "audit", "balance"),
    "admin": ("control", "incidents", "intake", "outages", "planner", "map", "data", "users", "webhooks", "audit",
              "inspection", "balance"),
    "org_dispatcher": ("desk", "incidents"),
    "crew": ("incidents",),
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
