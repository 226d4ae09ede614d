"""Benchmark of the residents' page: server time of an address page (outages, the allowance clock,
reports) and of the address suggestions, against /health on the same app in the same run.

Run (on a database with the demo city loaded, e.g. ``make demo``'s):
``.venv/bin/python benchmarks/resident.py [--n 200]`` — prints figures and ratios only (no assertions).
In process (FastAPI's TestClient): no network, the figure is the page's own work.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(client, path: str, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from gis.db import get_engine
    from apps.http.resident import create_app
    from settings import Settings

    eng = get_engine()
    with eng.connect() as conn:
        row = conn.execute(text("""
            SELECT b.id, b.address FROM buildings b
            LEFT JOIN outage_buildings ob ON ob.building_id = b.id
            WHERE b.address IS NOT NULL ORDER BY (ob.outage_id IS NULL), b.id LIMIT 1""")).first()
        n_b = conn.execute(text("SELECT count(*) FROM buildings")).scalar()
    if row is None:
        print("no buildings: load the demo city first (python -m data load-demo)")
        return 2
    bid, address = row
    client = TestClient(create_app(eng, Settings(resident_rate_per_min=10**9)))
    client.get("/health"), client.get(f"/address/{bid}")  # warm up
    word = address.split(",")[0][:6]
    print(f"resident page on {n_b} buildings, building {bid} ({address}), n={args.n}")
    base = statistics.median(timed(client, "/health", args.n))
    for name, path in (("address page", f"/address/{bid}"), ("suggestions", f"/api/addresses?q={word}"),
                       ("home", "/")):
        ms = timed(client, path, args.n)
        med, p95 = statistics.median(ms), sorted(ms)[int(0.95 * len(ms)) - 1]
        print(f"{name:14s} median {med:7.2f} ms  p95 {p95:7.2f} ms  ({med / base:5.1f}× /health at {base:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
