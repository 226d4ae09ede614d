"""Organisations' desks (issue 18): an organisation's staff see and change only their organisation's reports,
through every use-case of ``ops`` that lists or shows reports; the desk's actions are events stored once."""
from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text

from auth.errors import PermissionDenied
from auth.model import Actor
from incidents import service
from incidents.errors import IncidentNotFound
from incidents.work_orders import WorkOrderConflict, WorkOrderError
from ops import audit_log, incidents, inspection, orgs, users
from tests.incidents.conftest import City, city, settings  # noqa: F401  (fixtures)

ADMIN = Actor(author="boss", role="admin")
PASSWORD = "a long enough secret 42"


@dataclass(frozen=True)
class Two:
    """Two organisations, two reports each, a desk and a crew at each."""

    engine: Engine
    org_a: int
    org_b: int
    a_ids: list[int]
    b_ids: list[int]
    desk_a: Actor
    desk_b: Actor
    crew_a: Actor


@pytest.fixture()
def two(clean_engine: Engine, city: City) -> Iterator[Two]:  # noqa: F811
    eng = clean_engine
    with eng.begin() as conn:
        org_a, org_b = (conn.execute(text("INSERT INTO organisations (kind, name) VALUES (:k, :n) RETURNING id"),
                                     {"k": k, "n": n}).scalar_one()
                        for k, n in (("management_company", "УК Альфа"), ("utility", "Водоканал Бета")))
    ids: dict[int, list[int]] = {org_a: [], org_b: []}
    for n, org in enumerate((org_a, org_a, org_b, org_b)):
        inc = incidents.take_report(ADMIN, bind=eng, service_code="elevator", building_id=city.building_ids[n],
                                    description=f"report {n}").incident
        with eng.begin() as conn:
            conn.execute(text("UPDATE incidents SET responsible_org_id = :o WHERE id = :i"), {"o": org, "i": inc.id})
        ids[org].append(inc.id)
    made = {}
    for login, role, org in (("desk-a", "org_dispatcher", org_a), ("desk-b", "org_dispatcher", org_b),
                             ("crew-a", "crew", org_a), ("crew-b", "crew", org_b)):
        made[login] = Actor.of(users.add_user(ADMIN, login, role=role, password=PASSWORD, org_id=org, bind=eng))
    yield Two(eng, org_a, org_b, ids[org_a], ids[org_b], made["desk-a"], made["desk-b"], made["crew-a"])


def _snapshot(eng: Engine, incident_id: int) -> tuple:
    with eng.connect() as conn:
        row = conn.execute(text("SELECT status, version, responsible_org_id, org_state, crew_login, visit_at, org_answer "
                                "FROM incidents WHERE id = :i"), {"i": incident_id}).one()
        counts = conn.execute(text("SELECT (SELECT count(*) FROM work_order_events), (SELECT count(*) FROM incident_notes),"
                                   " (SELECT count(*) FROM work_order_photos)")).one()
    return tuple(row) + tuple(counts)


def test_accounts_of_an_organisation_need_it_and_others_refuse_it(two: Two) -> None:
    from auth.errors import InvalidUserInput

    with pytest.raises(InvalidUserInput, match="needs an organisation"):
        users.add_user(ADMIN, "nobody-org", role="crew", password=PASSWORD, bind=two.engine)
    with pytest.raises(InvalidUserInput, match="takes no organisation"):
        users.add_user(ADMIN, "op-org", role="operator", password=PASSWORD, org_id=two.org_a, bind=two.engine)
    with pytest.raises(InvalidUserInput, match="no active organisation"):
        users.add_user(ADMIN, "lost-crew", role="crew", password=PASSWORD, org_id=999_999, bind=two.engine)
    assert [u.login for u in users.list_users(ADMIN, bind=two.engine)] == ["crew-a", "crew-b", "desk-a", "desk-b"]
    moved = users.set_role(ADMIN, "crew-b", "operator", bind=two.engine)
    assert (moved.role, moved.org_id) == ("operator", None)
    with pytest.raises(InvalidUserInput, match="needs an organisation"):
        users.set_role(ADMIN, "crew-b", "crew", bind=two.engine)


def test_every_read_of_reports_is_scoped_to_the_organisation(two: Two) -> None:
    eng, a = two.engine, two.desk_a
    assert sorted(q.incident.id for q in incidents.queue(a, bind=eng)) == sorted(two.a_ids)
    assert sorted(q.incident.id for q in incidents.queue(ADMIN, bind=eng)) == sorted(two.a_ids + two.b_ids)
    assert {i.id for i in incidents.requests(a, bind=eng).incidents} == set(two.a_ids)
    assert [i.id for i in inspection.reports_by_ids(a, two.a_ids + two.b_ids, bind=eng)] == two.a_ids
    assert incidents.report(a, two.a_ids[0], bind=eng).incident.id == two.a_ids[0]
    assert inspection.responsible_of(a, two.a_ids[0], bind=eng) == two.org_a
    assert sorted(q.incident.id for q in orgs.work_orders(a, bind=eng)) == sorted(two.a_ids)
    other = two.b_ids[0]
    for call in (lambda: incidents.report(a, other, bind=eng), lambda: incidents.request(a, other, bind=eng),
                 lambda: incidents.find_duplicates(a, other, bind=eng),
                 lambda: inspection.responsible_of(a, other, bind=eng), lambda: orgs.work_order(a, other, bind=eng)):
        with pytest.raises(IncidentNotFound, match=f"no incident with id {other}"):
            call()
    # the same answer as a number that does not exist at all
    with pytest.raises(IncidentNotFound, match="no incident with id 987654"):
        incidents.report(a, 987654, bind=eng)
    # the service's pages an organisation does not hold: refused outright
    for call in (lambda: incidents.control_room(a, bind=eng), lambda: inspection.kpis(a, "2026-01-01", "2026-01-31", bind=eng)):
        with pytest.raises(PermissionDenied):
            call()
    # a crew sees the work orders assigned to it only
    assert orgs.work_orders(two.crew_a, bind=eng) == []


def test_no_write_reaches_another_organisations_report(two: Two) -> None:
    eng, a, other = two.engine, two.desk_a, two.b_ids[0]
    before = _snapshot(eng, other)
    version = incidents.report(ADMIN, other, bind=eng).incident.version
    attempts = [
        lambda: incidents.add_note(a, other, "не наше", bind=eng),
        lambda: orgs.act(a, other, "accepted", event_id="x-1", bind=eng),
        lambda: orgs.act(a, other, "resolved", event_id="x-2", text="готово", bind=eng),
        lambda: orgs.act(a, other, "returned", event_id="x-3", text="не наше", bind=eng),
        lambda: orgs.act(a, other, "visit_planned", event_id="x-4", visit_at=datetime.now(timezone.utc), bind=eng),
    ]
    for attempt in attempts:
        with pytest.raises(IncidentNotFound):
            attempt()
    # rights the desk does not hold are refused before the scope is looked at
    for attempt in (lambda: incidents.transition(a, other, "accepted", expected_version=version, bind=eng),
                    lambda: incidents.set_description_private(a, other, True, bind=eng)):
        with pytest.raises(PermissionDenied):
            attempt()
    assert _snapshot(eng, other) == before


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    img = Image.new("RGB", (3000, 1500), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"   # Make: must not survive the re-encoding
    img.save(buf, format="PNG", exif=exif)
    return buf.getvalue()


def test_the_desk_accepts_assigns_plans_and_resolves_each_event_once(two: Two) -> None:
    eng, a, wid = two.engine, two.desk_a, two.a_ids[0]
    first = orgs.act(a, wid, "accepted", event_id="evt-accept-1", bind=eng)
    assert first.created and first.incident.org_state == "accepted" and first.incident.status == "accepted"
    again = orgs.act(a, wid, "accepted", event_id="evt-accept-1", bind=eng)
    assert not again.created and again.event.id == first.event.id
    with pytest.raises(WorkOrderConflict, match="another action"):
        orgs.act(a, wid, "resolved", event_id="evt-accept-1", text="x", bind=eng)
    # ids are the organisation's own: another organisation's equal id is another event
    assert orgs.act(two.desk_b, two.b_ids[0], "accepted", event_id="evt-accept-1", bind=eng).created
    with pytest.raises(WorkOrderError, match="no active crew"):
        orgs.act(a, wid, "assigned", event_id="evt-assign-b", crew="crew-b", bind=eng)   # another organisation's
    assert [c["login"] for c in orgs.crews(a, bind=eng)] == ["crew-a"]
    assigned = orgs.act(a, wid, "assigned", event_id="evt-assign-1", crew="crew-a", bind=eng)
    assert (assigned.incident.crew_login, assigned.incident.status) == ("crew-a", "dispatched")
    # the crew sees it now, plans the visit and resolves it with a photo
    assert [q.incident.id for q in orgs.work_orders(two.crew_a, bind=eng)] == [wid]
    visit = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=3)
    planned = orgs.act(two.crew_a, wid, "visit_planned", event_id="evt-visit-1", visit_at=visit, bind=eng)
    assert planned.incident.visit_at == visit and planned.incident.org_state == "visit_planned"
    with pytest.raises(PermissionDenied, match="orders.desk"):
        orgs.act(two.crew_a, wid, "returned", event_id="evt-ret-crew", text="не наше", bind=eng)
    done = orgs.act(two.crew_a, wid, "resolved", event_id="evt-done-1", text="Лифт починен", photos=[_png()], bind=eng)
    assert (done.incident.status, done.incident.org_answer) == ("resolved", "Лифт починен")
    order = orgs.work_order(a, wid, bind=eng)
    assert [(e.kind, e.author) for e in order.events] == [  # (org B's event is not among them)
        ("accepted", "desk-a"), ("assigned", "desk-a"), ("visit_planned", "crew-a"), ("resolved", "crew-a")]
    [photo] = order.photos
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/png", 2048, 1024)
    with eng.connect() as conn:
        data = conn.execute(text("SELECT data FROM work_order_photos")).scalar_one()
    assert b"SecretCam" not in bytes(data)
    # every action audited once, by its author
    trail = audit_log.events(ADMIN, audit_log.AuditFilter(object_type="incident", object_id=str(wid)), bind=eng)
    assert sorted(e["action"] for e in trail if e["action"].startswith("work_order.")) == [
        "work_order.accepted", "work_order.assigned", "work_order.resolved", "work_order.visit_planned"]
    # nothing more to do on a resolved report; a repeated event still answers with the stored one
    with pytest.raises(WorkOrderConflict):
        orgs.act(a, wid, "accepted", event_id="evt-accept-2", bind=eng)
    assert not orgs.act(two.crew_a, wid, "resolved", event_id="evt-done-1", text="Лифт починен", bind=eng).created


def test_not_ours_goes_back_to_the_dispatcher_audited_and_bad_input_writes_nothing(two: Two) -> None:
    eng, a, wid = two.engine, two.desk_a, two.a_ids[1]
    before = _snapshot(eng, wid)
    for kwargs, message in ((dict(kind="returned", text=" "), "needs a text"),
                            (dict(kind="resolved", text="ok", photos=[b"GIF89a not a photo"]), "could not be read"),
                            (dict(kind="visit_planned"), "visit_at"),
                            (dict(kind="resolved", text="<script>x</script>"), "text"),
                            (dict(kind="launched"), "unknown kind")):
        with pytest.raises(WorkOrderError, match=message):
            orgs.act(a, wid, event_id="bad-1", bind=eng, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(WorkOrderError, match="event_id"):
        orgs.act(a, wid, "accepted", event_id="два слова", bind=eng)
    assert _snapshot(eng, wid) == before
    back = orgs.act(a, wid, "returned", event_id="evt-return-1", text="Это сети водоканала", bind=eng)
    assert back.incident.responsible_org_id is None and back.incident.org_state is None
    assert wid not in [q.incident.id for q in orgs.work_orders(a, bind=eng)]
    with pytest.raises(IncidentNotFound):
        incidents.report(a, wid, bind=eng)
    [event] = [e for e in audit_log.events(ADMIN, audit_log.AuditFilter(object_type="incident", object_id=str(wid)),
                                           bind=eng) if e["action"] == "work_order.returned"]
    assert (event["actor"], event["reason"], event["details"]["org_id"]) == ("desk-a", "Это сети водоканала", two.org_a)
    # the service's dispatcher names the organisation again
    inspection.set_responsible_org(ADMIN, wid, two.org_b, "водоканал", bind=eng)
    assert wid in [q.incident.id for q in orgs.work_orders(two.desk_b, bind=eng)]
    # B sees its own events on the work order, not A's hand-back with A's reason
    assert orgs.work_order(two.desk_b, wid, bind=eng).events == []
    orgs.act(two.desk_b, wid, "accepted", event_id="evt-b-1", bind=eng)
    assert [e.event_id for e in orgs.work_order(two.desk_b, wid, bind=eng).events] == ["evt-b-1"]


def test_an_organisations_breach_shows_in_the_control_room(two: Two) -> None:
    eng = two.engine
    with eng.begin() as conn:   # the first report of A is long past its deadline
        conn.execute(text("UPDATE incidents SET created_at = now() - interval '30 days' WHERE id = :i"),
                     {"i": two.a_ids[0]})
    room = incidents.control_room(ADMIN, bind=eng)
    assert room.org_breaches == {two.org_a: 1}
    assert service.org_breaches(eng) == {two.org_a: 1}


def test_a_crew_never_sees_who_reported(two: Two, city: City) -> None:  # noqa: F811
    """A crew works the report on site: no reporter's name, phone or e-mail, and the description with the
    phone in it masked — in the queue and in the report; the organisation's desk still sees them."""
    inc = incidents.take_report(ADMIN, bind=two.engine, service_code="elevator", building_id=city.building_ids[0],
                                description="Лифт стоит, звоните +7 912 345-67-89", reporter_name="Анна Петрова",
                                reporter_phone="+79123456789", reporter_email="anna@example.org").incident
    with two.engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET responsible_org_id = :o WHERE id = :i"), {"o": two.org_a, "i": inc.id})
    seen = incidents.report(two.crew_a, inc.id, bind=two.engine).incident
    assert (seen.reporter_name, seen.reporter_phone, seen.reporter_email) == (None, None, None)
    assert "345-67-89" not in seen.description and "Лифт стоит" in seen.description
    listed = [q.incident for q in incidents.queue(two.crew_a, bind=two.engine) if q.incident.id == inc.id]
    assert listed and listed[0].reporter_phone is None and "345-67-89" not in listed[0].description
    desk = incidents.report(two.desk_a, inc.id, bind=two.engine).incident
    assert desk.reporter_phone == "+79123456789" and desk.reporter_name == "Анна Петрова"
