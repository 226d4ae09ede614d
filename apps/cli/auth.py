"""``python -m auth``: accounts from the server's shell (the author recorded is ``cli:<os user>``).

    python -m auth user add LOGIN --role ROLE [--name "Full Name"] [--org ORG_ID]   (the password: one line on stdin)
    python -m auth user list [--json]
    python -m auth user set-role LOGIN ROLE        (or --role ROLE; [--org ORG_ID] for org_dispatcher and crew)
    python -m auth user disable LOGIN  |  user enable LOGIN
    python -m auth user passwd LOGIN               (the new password: one line on stdin)
    python -m auth demo-users                      (one account per role for the demo; passwords printed once;
                                                    org_dispatcher and crew work for the demo utility)

Bad input (unknown role, duplicate login, a password under 10 characters, an unknown login; --org missing
for org_dispatcher or crew, given for any other role, or naming no active organisation: see
``python -m reports orgs``) exits 2 with one line on stderr and writes nothing.
"""
from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys

from apps.cli.common import Parser, run
from auth.errors import AuthError, DuplicateLogin
from auth.model import Actor, User
from auth.permissions import ORG_ROLES, ROLES
from auth.service import org_problem
from ops import audit, users
from settings import get_settings

# the service's roles; an organisation's staff need an organisation (added with --org)
DEMO_LOGINS = {role: role for role in ROLES if role not in ORG_ROLES}
DEMO_NAMES = {"operator": "Оператор (демо)", "dispatcher": "Диспетчер (демо)", "planner": "Планировщик (демо)",
              "inspector": "Инспектор (демо)", "admin": "Администратор (демо)",
              "org_dispatcher": "Диспетчер водоканала (демо)", "crew": "Бригада водоканала (демо)"}
# an organisation's staff: the demo utility's desk and its crew (the phone page, python -m field serve)
DEMO_ORG_LOGINS = {role: role for role in ROLES if role in ORG_ROLES}


class Refused(Exception):
    """Input this command refuses before the accounts see it: one line for stderr, exit 2."""


def read_password() -> str:
    """One line from stdin (a prompt without echo when stdin is a terminal)."""
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    line = sys.stdin.readline()
    if not line:
        raise Refused("no password on stdin (give it as one line)")
    return line.rstrip("\r\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m auth", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    user = sub.add_parser("user", help="manage accounts")
    act = user.add_subparsers(dest="action", required=True, parser_class=Parser)
    add = act.add_parser("add", help="create an account (password from stdin)")
    add.add_argument("login")
    add.add_argument("--role", required=True, help=" | ".join(ROLES))
    add.add_argument("--name", default="", help="full name shown in the app")
    add.add_argument("--org", type=int, default=None, metavar="ORG_ID",
                     help="the organisation of an org_dispatcher or crew (python -m reports orgs)")
    lst = act.add_parser("list", help="list accounts")
    lst.add_argument("--json", action="store_true")
    sr = act.add_parser("set-role", help="change a role")
    sr.add_argument("login")
    sr.add_argument("role_pos", nargs="?", metavar="ROLE")
    sr.add_argument("--role", dest="role_opt")
    sr.add_argument("--org", type=int, default=None, metavar="ORG_ID",
                    help="the organisation of an org_dispatcher or crew")
    for name, text in (("disable", "disable an account (its sessions end at once)"), ("enable", "enable an account"),
                       ("passwd", "set a new password (from stdin)")):
        p = act.add_parser(name, help=text)
        p.add_argument("login")
    sub.add_parser("demo-users", help="create one demo account per role (not on a production server)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _run(args), AuthError, Refused)


def _run(args: argparse.Namespace) -> int:
    actor = Actor.cli(audit.cli_actor())
    if args.command == "demo-users":
        return demo_users(actor)
    ACTIONS[args.action](actor, args)
    return 0


def _add(actor: Actor, args: argparse.Namespace) -> None:
    if args.role not in ROLES:
        raise Refused(f"unknown role {args.role!r}; expected one of {', '.join(ROLES)}")
    problem = org_problem(args.role, args.org)
    if problem:   # before the password is read: nothing to type for a command that will be refused
        raise Refused(problem[2])
    user = users.add_user(actor, args.login, role=args.role, password=read_password(), display_name=args.name,
                          org_id=args.org)
    print(f"created {user.login} ({user.role}" + (f", organisation {user.org_id})" if user.org_id else ")"))


def _list(actor: Actor, args: argparse.Namespace) -> None:
    found = users.list_users(actor)
    if args.json:
        print(json.dumps([_as_json(u) for u in found], ensure_ascii=False))
        return
    for u in found:
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
        state = "active" if u.active else "disabled"
        org = f" (organisation {u.org_id})" if u.org_id is not None else ""
        print(f"{u.login:<24} {u.role:<11} {state:<9} last login {last:<16} {u.display_name}{org}")


def _as_json(u: User) -> dict[str, object]:
    return {**u.__dict__, "created_at": u.created_at.isoformat(),
            "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}


def _set_role(actor: Actor, args: argparse.Namespace) -> None:
    role = args.role_opt or args.role_pos
    if not role:
        raise Refused("set-role needs a role: python -m auth user set-role LOGIN ROLE")
    user = users.set_role(actor, args.login, role, org_id=args.org)
    print(f"{user.login} is now {user.role}" + (f" of organisation {user.org_id}" if user.org_id else ""))


def _set_active(actor: Actor, args: argparse.Namespace) -> None:
    user = users.set_active(actor, args.login, args.action == "enable")
    print(f"{user.login} {'enabled' if user.active else 'disabled'}")


def _passwd(actor: Actor, args: argparse.Namespace) -> None:
    user = users.set_password(actor, args.login, read_password())
    print(f"password of {user.login} changed; their sessions ended")


ACTIONS = {"add": _add, "list": _list, "set-role": _set_role, "disable": _set_active, "enable": _set_active,
           "passwd": _passwd}


def demo_users(actor: Actor) -> int:
    """Create the missing demo accounts and print their passwords — only this once."""
    if get_settings().env == "production":
        raise Refused("demo accounts are not created on a production server (ZHKH_ENV=production)")
    created = []
    org = users.demo_organisation(actor)
    wanted = [(role, login, None) for role, login in DEMO_LOGINS.items()]
    wanted += [(role, login, org) for role, login in DEMO_ORG_LOGINS.items() if org is not None]
    for role, login, org_id in wanted:
        password = secrets.token_urlsafe(9)
        try:
            users.add_user(actor, login, role=role, password=password, display_name=DEMO_NAMES[role], org_id=org_id)
        except DuplicateLogin:
            continue
        created.append((login, role, password, org_id))
    if created:
        print("Demo accounts (the passwords are shown only now; change them with `python -m auth user passwd LOGIN`):")
        for login, role, password, org_id in created:
            print(f"  {login:<14} {password}   ({role}" + (f", organisation {org_id})" if org_id else ")"))
    else:
        print("Demo accounts exist already: " + ", ".join([*DEMO_LOGINS.values(), *DEMO_ORG_LOGINS.values()])
              + " (set a password with `python -m auth user passwd LOGIN`).")
    if org is None:
        print("note: no demo organisation yet: the org_dispatcher and crew accounts are made when "
              "`python -m auth demo-users` runs after `python -m reports demo`", file=sys.stderr)
    elif any(r == "crew" for _, r, _, _ in created):
        print("note: the crew signs in on the phone page: python -m field serve --port 8530 (make demo starts it)",
              file=sys.stderr)
    return 0
