"""The live feed of realistic reports (``python -m incidents simulate``): about ``rate`` reports a
second for ``duration_s`` seconds, drawn by ``incidents.simulate``. Reports are taken through
``ops.incidents.take_report`` (the same path as the hotline form), signed by whoever ran it
(``cli:<os user> (simulator)``), or, with ``url``, POSTed to a running Open311 API."""
from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import Engine

from auth.model import Actor
from incidents.errors import IncidentError
from incidents.simulate import SimStats, feed_city, next_reports
from ops import incidents as reports
from ops.audit import cli_actor
from ops.base import engine as default_engine


def _open311_body(r: dict[str, Any], api_key: str | None) -> dict[str, Any]:
    """A report as the fields of an Open311 POST."""
    return {"api_key": api_key, "service_code": r["service_code"], "lat": r["lat"], "long": r["lon"],
            "description": r["description"], "first_name": (r["reporter_name"] or "").split(" ")[0] or None,
            "phone": r["reporter_phone"]}


def run(*, rate: float, duration_s: float, seed: int | None = None, url: str | None = None,
        api_key: str | None = None, engine: Engine | None = None, burst_probability: float = 0.03) -> SimStats:
    """Send about ``rate`` reports per second for ``duration_s`` seconds; the counts."""
    rng = random.Random(seed)
    engine = default_engine(engine)
    actor = Actor.cli(f"{cli_actor()} (simulator)")  # who ran it; the reports are recognisably simulated
    city = feed_city(engine)
    client = None
    if url:
        import httpx  # only a feed to a running API needs an HTTP client

        client = httpx.Client(base_url=url.rstrip("/"), timeout=10.0)

    def send(r: dict[str, Any]) -> bool:
        try:
            if client is not None:
                return client.post("/requests.json", json=_open311_body(r, api_key)).status_code in (200, 201)
            reports.take_report(actor, bind=engine, **r)
            return True
        except IncidentError:
            return False

    stats = SimStats()
    start = time.monotonic()
    next_at = start
    try:
        while (now := time.monotonic()) - start < duration_s:
            if next_at > now:
                time.sleep(min(next_at - now, duration_s - (now - start)))
                continue
            next_at += rng.expovariate(rate)
            batch, burst = next_reports(rng, city, burst_probability)
            stats.bursts += burst
            for r in batch:
                stats.count(r["service_code"], send(r))
    finally:
        if client is not None:
            client.close()
    stats.elapsed_s = time.monotonic() - start
    return stats
