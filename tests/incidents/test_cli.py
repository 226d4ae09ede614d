"""``python -m incidents``: api-key create (key on the last line, only its hash stored), serve on
a real port, and the bounded simulator."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
from sqlalchemy import Engine, text

from apps.demo.feed import run
from incidents import keys
from settings import ROOT
from tests.incidents.conftest import City


def _env(db_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": db_url}


def test_api_key_create_prints_the_key_last_and_stores_a_hash(clean_engine: Engine, db_url: str) -> None:
    out = subprocess.run([sys.executable, "-m", "incidents", "api-key", "create", "--name", "portal"],
                         cwd=ROOT, env=_env(db_url), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("zk_") and len(key) > 30
    verified = keys.verify_api_key(clean_engine, key)
    assert verified.id >= 1 and verified.name == "portal"
    with clean_engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash FROM api_keys WHERE name = 'portal'")).scalar()
    assert stored == keys.hash_api_key(key) and key not in stored
    bad = subprocess.run([sys.executable, "-m", "incidents", "api-key", "create", "--name", " "],
                         cwd=ROOT, env=_env(db_url), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "needs a name" in bad.stderr and "Traceback" not in bad.stderr


def test_api_key_of_an_organisation(clean_engine: Engine, db_url: str) -> None:
    with clean_engine.begin() as conn:
        org = conn.execute(text("INSERT INTO organisations (kind, name) VALUES ('utility', 'Водоканал') "
                                "RETURNING id")).scalar_one()
    out = subprocess.run([sys.executable, "-m", "incidents", "api-key", "create", "--name", "vk-erp", "--org", str(org)],
                         cwd=ROOT, env=_env(db_url), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert keys.verify_api_key(clean_engine, out.stdout.strip().splitlines()[-1]).org_id == org
    bad = subprocess.run([sys.executable, "-m", "incidents", "api-key", "create", "--name", "x", "--org", "999999"],
                         cwd=ROOT, env=_env(db_url), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: no organisation with id 999999"
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_on_loopback(clean_engine: Engine, city: City, db_url: str) -> None:
    port = _free_port()
    key = keys.create_api_key(clean_engine, "serve-test")
    proc = subprocess.Popen([sys.executable, "-m", "incidents", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=_env(db_url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}/open311/v2"
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"{base}/services.json", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the API did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and any(s["service_code"] == "burst" for s in r.json())
        p = httpx.post(f"{base}/requests.json", data={"api_key": key, "service_code": "burst", "lat": "60.1700",
                                                      "long": "24.9410", "description": "Фонтан"}, timeout=10)
        assert p.status_code == 201, p.text
        stats = run(rate=20, duration_s=1.0, seed=3, url=base, api_key=key, engine=clean_engine)
        assert stats.accepted >= 5 and stats.failed == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents WHERE channel = 'api'")).scalar() == 1 + stats.accepted


def test_simulator_is_bounded_and_stores_every_accepted_report(clean_engine: Engine, city: City) -> None:
    # how many reports fit in the second depends on the machine's load: assert what does not
    stats = run(rate=40, duration_s=1.0, seed=7, engine=clean_engine, burst_probability=0.2)
    assert stats.elapsed_s >= 1.0  # it ran its full duration and then stopped by itself
    assert stats.sent >= 1 and stats.accepted == stats.sent and stats.failed == 0
    with clean_engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*), count(DISTINCT service_code), bool_and(description ~ '[А-Яа-я]') "
                                 "FROM incidents")).one()
    assert rows[0] == stats.accepted and rows[1] == len(stats.by_service) and rows[2] is True
    assert sum(stats.by_service.values()) == stats.accepted
