"""Organisations' webhooks: two organisations of the tiny district (tests/incidents/conftest.py), each the
management company of a building, and a real HTTP receiver in a thread on a free port."""
from __future__ import annotations

import contextlib
import json
import threading
from datetime import timedelta
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine, text

from auth.model import Actor
from ops import incidents, inspection, webhooks
from ops.base import utcnow
from orgs import payload
from settings import Settings
from tests.incidents.conftest import City, city  # noqa: F401  (fixture)
from tests.support import free_port

KEY = "a test sealing key of at least 32 characters"
SECRET_A = "org-A-signing-secret-0123456789"
SECRET_B = "org-B-signing-secret-9876543210"


def webhook_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"webhook_allow_private": True, "webhook_key": KEY, "webhook_backoff_s": 30,
                                 "webhook_backoff_max_s": 3600, "webhook_timeout_s": 5, **overrides}
    return Settings(_env_file=None, **values)


@dataclass
class Receiver:
    """An organisation's endpoint as its IT would write it: it checks the signature over the raw body,
    processes each ``event_id`` once, and answers with the next status of ``plan`` (then 200).
    ``hold``: the first request waits until released (a slow receiver); ``meet``: the first ``meet`` requests
    wait for each other (proof that several senders ran at once)."""

    secret: bytes
    plan: list[int] = field(default_factory=list)
    meet: int = 0
    hold: bool = False
    requests: list[dict] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)   # event ids, each once
    bad_signatures: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/zhkh?x=1"

    def handle(self, headers: dict[str, str], raw: bytes) -> int:
        with self.lock:
            first = not self.requests
            self.requests.append({"headers": headers, "raw": raw})
            n = len(self.requests)
        self.arrived.set()
        if self.meet and n <= self.meet:
            self._barrier.wait(timeout=20)
        if self.hold and first:
            self.release.wait(timeout=20)
        if not payload.verify(self.secret, raw, headers.get(payload.SIGNATURE_HEADER.lower(), "")):
            with self.lock:
                self.bad_signatures += 1
            return 401
        event = json.loads(raw)
        with self.lock:
            if event["event_id"] not in self.processed:   # a repeated event_id is not processed again
                self.processed.append(event["event_id"])
            status = self.plan.pop(0) if self.plan else 200
        return status

    def start(self) -> ThreadingHTTPServer:
        self._barrier = threading.Barrier(max(self.meet, 1))
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, raw)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def events(self) -> list[dict]:
        return [json.loads(r["raw"]) for r in self.requests]


@pytest.fixture()
def serve() -> Iterator[Callable[[Receiver], Receiver]]:
    """``serve(Receiver(...))`` starts a receiver; all are shut down after the test."""
    started: list[tuple[Receiver, ThreadingHTTPServer]] = []

    def start(r: Receiver) -> Receiver:
        started.append((r, r.start()))
        return r

    yield start
    for r, server in started:
        r.release.set()
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Two:
    engine: Engine
    org_a: int
    org_b: int
    building_a: int   # managed by A: its elevator reports are A's at intake
    building_b: int


@pytest.fixture()
def two(clean_engine: Engine, city: City) -> Two:  # noqa: F811
    with clean_engine.begin() as conn:
        a, b = (conn.execute(text("INSERT INTO organisations (kind, name) VALUES ('management_company', :n) "
                                  "RETURNING id"), {"n": n}).scalar_one() for n in ("УК Альфа", "УК Бета"))
        for building, org in ((city.building_ids[0], a), (city.building_ids[1], b)):
            conn.execute(text("UPDATE buildings SET management_company_id = :o WHERE id = :b"),
                         {"o": org, "b": building})
    return Two(clean_engine, a, b, city.building_ids[0], city.building_ids[1])


@dataclass(frozen=True)
class FailingDelivery:
    org: int
    incident_id: int
    url: str


@contextlib.contextmanager
def failing_delivery(eng: Engine, serve: Callable[[Receiver], Receiver], status: int,
                     description: str) -> Iterator[FailingDelivery]:
    """On the demo database: the test management company («Тест УК») gets a webhook whose receiver answers
    ``status``, a new report handed to it makes a work_order.created event, and one delivery pass fails on it
    (retried; the other pending events of the shared database are put off a day). The webhook is deleted
    afterwards."""
    admin = Actor.cli("cli:tests")
    with eng.connect() as conn:
        org = conn.execute(text("SELECT id FROM organisations WHERE name = 'Тест УК'")).scalar_one()
        building = conn.execute(text("SELECT id FROM buildings ORDER BY id LIMIT 1")).scalar_one()
    rx = serve(Receiver(SECRET_A.encode(), plan=[status]))
    s = webhook_settings()
    webhooks.set_webhook(admin, org, rx.url, SECRET_A, bind=eng, settings=s)
    try:
        inc = incidents.take_report(admin, bind=eng, service_code="elevator", building_id=building,
                                    description=description).incident
        inspection.set_responsible_org(admin, inc.id, None, bind=eng)
        inspection.set_responsible_org(admin, inc.id, org, bind=eng)      # → a work_order.created for the org
        with eng.begin() as conn:   # the other events of the shared demo database are not this test's
            conn.execute(text("UPDATE webhook_events SET next_attempt_at = now() + interval '1 day' "
                              "WHERE state = 'pending' AND incident_id <> :i"), {"i": inc.id})
        assert webhooks.deliver_once(bind=eng, settings=s, now=utcnow() + timedelta(seconds=1)).retried == 1
        yield FailingDelivery(org, inc.id, rx.url)
    finally:
        webhooks.delete_webhook(admin, org, bind=eng)
