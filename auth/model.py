"""Plain records of people and clients (no database code)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class User:
    """An account as stored (never carries the password hash out of ``auth``)."""

    id: int
    login: str
    display_name: str
    role: str
    active: bool
    auth_source: str
    created_at: datetime
    created_by: str
    last_login_at: datetime | None = None
    org_id: int | None = None          # the organisation of an ``org_dispatcher`` or ``crew``


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, an Open311 client or a command run on the server.

    ``author`` is what the audit trail records: the user's login, ``api:<key name>`` or
    ``cli:<os user>``. ``role`` decides the rights (``auth.permissions``).
    """

    author: str
    role: str
    display_name: str = ""
    user_id: int | None = None
    kind: str = "user"  # user | api | cli
    org_id: int | None = None   # bound to one organisation: sees and changes only its reports

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(author=user.login, role=user.role, display_name=user.display_name or user.login,
                   user_id=user.id, kind="user", org_id=user.org_id)

    @classmethod
    def org_client(cls, key_name: str, org_id: int) -> Actor:
        """An organisation's own system (a key with an organisation): its desk's rights, its reports only."""
        return cls(author=f"api:{key_name}", role="org_dispatcher", display_name=key_name, kind="api",
                   org_id=org_id)

    @classmethod
    def api_client(cls, key_name: str) -> Actor:
        """An Open311 client: may take reports and read them, nothing else."""
        return cls(author=f"api:{key_name}", role="operator", display_name=key_name, kind="api")

    @classmethod
    def open311_public(cls) -> Actor:
        """Whoever reads the Open311 API without a key (GeoReport's reads are public; descriptions are
        masked). Only the read routes act as it; it holds an API client's role."""
        return cls(author="api:(public)", role="operator", display_name="Open311", kind="api")

    @classmethod
    def cli(cls, author: str) -> Actor:
        """A command run in a shell on the server (whoever can do that owns the database anyway)."""
        return cls(author=author, role="admin", display_name=author, kind="cli")
