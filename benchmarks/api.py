"""Load benchmark of the Open311 API: uvicorn on loopback, real PostGIS in a scratch database.

    .venv/bin/python benchmarks/api.py [--rate 200] [--duration 20] [--workers 1] [--buildings 5000]

Builds a synthetic district near Helsinki (a grid of buildings and water mains) in a scratch
database, issues an API key, starts ``python -m incidents serve``, and drives an open-loop load
(requests scheduled at a fixed rate, from a separate process, one asyncio loop over keep-alive
connections; latency counted from the scheduled send time): POST
requests.json with a unique client ``token`` each, plus a share of GET requests/{id}.json.
Prints the achieved rate, latency percentiles and errors, then checks that the database holds
exactly one row per accepted POST (nothing lost, nothing doubled). Drops the scratch database.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from gis.db import database_url, make_engine  # noqa: E402
from incidents.keys import create_api_key  # noqa: E402
from tests.support import drop_database, pct  # noqa: E402

LON0, LAT0 = 24.93, 60.165
STEP_LON, STEP_LAT = 0.0012, 0.0006   # ≈ 67 m × 67 m


def build_city(url: str, n_buildings: int) -> None:
    """A grid of ``n_buildings`` buildings with a water main along every row."""
    side = int(n_buildings ** 0.5) + 1
    engine = make_engine(url)
    with engine.begin() as conn:
        net = conn.execute(text("INSERT INTO networks (name, resource) VALUES ('bench', 'cold_water') RETURNING id")).scalar_one()
        conn.execute(text("""
            INSERT INTO buildings (address, kind, residents, geom)
            SELECT 'Benchkatu ' || (r * :side + c), 'residential', 20 + (r * c) % 80,
                   ST_Expand(ST_SetSRID(ST_MakePoint(:lon0 + c * :dx, :lat0 + r * :dy), 4326), 0.0002)
            FROM generate_series(0, :side - 1) r, generate_series(0, :side - 1) c
            WHERE r * :side + c < :n
        """), {"side": side, "n": n_buildings, "lon0": LON0, "lat0": LAT0, "dx": STEP_LON, "dy": STEP_LAT})
        conn.execute(text("""
            INSERT INTO nodes (network_id, ext_id, kind, geom)
            SELECT :net, 'N' || r || '_' || e, CASE WHEN e = 0 THEN 'source' ELSE 'junction' END,
                   ST_SetSRID(ST_MakePoint(:lon0 + e * (:side - 1) * :dx, :lat0 + r * :dy - :dy / 2), 4326)
            FROM generate_series(0, :side - 1) r, generate_series(0, 1) e
        """), {"net": net, "side": side, "lon0": LON0, "lat0": LAT0, "dx": STEP_LON, "dy": STEP_LAT})
        conn.execute(text("""
            INSERT INTO pipes (network_id, ext_id, from_node, to_node, diameter_mm, geom)
            SELECT :net, 'P' || r, a.id, b.id, 150, ST_MakeLine(a.geom, b.geom)
            FROM generate_series(0, :side - 1) r
            JOIN nodes a ON a.network_id = :net AND a.ext_id = 'N' || r || '_0'
            JOIN nodes b ON b.network_id = :net AND b.ext_id = 'N' || r || '_1'
        """), {"net": net, "side": side})
        conn.execute(text("ANALYZE"))
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def drive(base: str, key: str, rate: float, duration_s: float, get_fraction: float, n_buildings: int,
          threads: int, out: "mp.Queue[dict]") -> None:
    """The load generator (own process): open loop, one request every 1/rate seconds.

    One asyncio loop with a pool of keep-alive HTTP/1.1 connections (opened as needed, at most
    ``threads``): a thread per connection made the generator's own GIL contention show up as
    server latency. Latency is measured from the *scheduled* send time, so a late generator or a
    queue at the server both count (no coordinated omission)."""
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    host, port, prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path

    async def run() -> dict:
        loop = asyncio.get_running_loop()
        idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        slots = asyncio.Semaphore(threads)

        async def http(method: str, path: str, body: bytes) -> tuple[int, bytes]:
            for attempt in range(2):
                conn = idle.pop() if idle else await asyncio.open_connection(host, port)
                reader, writer = conn
                try:
                    head = (f"{method} {prefix}{path} HTTP/1.1\r\nHost: {host}\r\n"
                            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
                    writer.write(head.encode() + body)
                    await writer.drain()
                    status = int((await reader.readline()).split()[1])
                    length, close = 0, False
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        name, _, value = line.decode("latin-1").partition(":")
                        if name.lower() == "content-length":
                            length = int(value)
                        elif name.lower() == "connection" and "close" in value.lower():
                            close = True
                    data = await reader.readexactly(length)
                    if close:
                        writer.close()
                    else:
                        idle.append(conn)
                    return status, data
                except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
                    writer.close()
                    if attempt == 1:
                        raise
            raise ConnectionError("unreachable")

        side = int(n_buildings ** 0.5) + 1
        rng = random.Random(1)
        latencies: list[float] = []
        lags: list[float] = []
        accepted: list[str] = []
        errors: dict[str, int] = {}
        posted = 0
        codes = ["no_water", "no_hot_water", "sewer", "elevator", "repair", "no_heating", "burst", "other"]

        async def one(scheduled: float, payload: dict | None) -> None:
            async with slots:
                lags.append(loop.time() - scheduled)
                try:
                    if payload is None:
                        rid = accepted[rng.randrange(len(accepted))] if accepted else "1"
                        status, _ = await http("GET", f"/requests/{rid}.json", b"")
                        ok = status in (200, 404)
                    else:
                        # a retry after a dropped connection re-sends the same token: never a double row
                        status, body = await http("POST", "/requests.json", json.dumps(payload).encode())
                        ok = status in (200, 201)
                        if ok:
                            accepted.append(json.loads(body)[0]["service_request_id"])
                    if not ok:
                        errors[str(status)] = errors.get(str(status), 0) + 1
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                latencies.append(loop.time() - scheduled)

        total = int(rate * duration_s)
        cpu0 = time.process_time()
        start = loop.time() + 0.2
        tasks = []
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = None
            if rng.random() >= get_fraction or i < 10:
                cell = rng.randrange(n_buildings)
                r_, c_ = divmod(cell, side)
                payload = {"api_key": key, "service_code": rng.choice(codes), "token": f"bench-{i}",
                           "lat": LAT0 + r_ * STEP_LAT + rng.uniform(-0.0001, 0.0001),
                           "long": LON0 + c_ * STEP_LON + rng.uniform(-0.0001, 0.0001),
                           "description": "Нагрузочный тест: нет воды <b>в подъезде</b>",
                           "first_name": "Тест", "phone": "+7 900 000-00-00"}
                posted += 1
            tasks.append(asyncio.create_task(one(scheduled, payload)))
        send_elapsed = loop.time() - start
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
        for _, writer in idle:
            writer.close()
        return {"latencies": latencies, "lags": lags, "accepted": len(set(accepted)), "posted": posted,
                "errors": errors, "elapsed": elapsed, "send_elapsed": send_elapsed, "sent": total,
                "client_cpu_s": time.process_time() - cpu0}

    out.put(asyncio.run(run()))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn workers), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--buildings", type=int, default=5000)
    ap.add_argument("--get-fraction", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=64, help="most connections open at once")
    ap.add_argument("--keep-db", action="store_true")
    args = ap.parse_args()

    base_url = make_url(database_url())
    name = f"zhkh_bench_{os.getpid()}"
    url = base_url.set(database=name).render_as_string(hide_password=False)
    server = None
    try:
        t = time.perf_counter()
        build_city(url, args.buildings)
        engine = make_engine(url)
        key = create_api_key(engine, "bench")
        print(f"scratch database {name}: {args.buildings} buildings ready in {time.perf_counter() - t:.1f} s")
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": url}
        server = subprocess.Popen([sys.executable, "-m", "incidents", "serve", "--host", "127.0.0.1", "--port",
                                   str(port), "--workers", str(args.workers)], cwd=ROOT, env=env)
        import httpx

        base = f"http://127.0.0.1:{port}/open311/v2"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/services.json", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the API did not start") from None
                time.sleep(0.2)
        # warm up every worker's pool and caches (not measured, not counted)
        for _ in range(20 * args.workers):
            httpx.get(f"{base}/requests/1.json", timeout=5)
        ctx = mp.get_context("spawn")
        q: mp.Queue = ctx.Queue()
        load = ctx.Process(target=drive, args=(base, key, args.rate, args.duration, args.get_fraction,
                                               args.buildings, args.threads, q))
        cpu0, load0 = cpu_seconds(server.pid), os.getloadavg()[0]
        load.start()
        res = q.get(timeout=args.duration + 120)
        load.join()
        server_cpu_s = cpu_seconds(server.pid) - cpu0
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*), count(DISTINCT client_token) FROM incidents "
                                     "WHERE client_token LIKE 'bench-%'")).one()
            events = conn.execute(text("SELECT count(*) FROM incident_events")).scalar()
        engine.dispose()
        lat_ms = [x * 1000 for x in res["latencies"]]
        summary = {
            "workers": args.workers, "target_rate": args.rate, "duration_s": args.duration,
            "sent": res["sent"], "achieved_rate": round(res["sent"] / res["send_elapsed"], 1),
            "completed_rate": round(len(lat_ms) / res["elapsed"], 1),
            "p50_ms": round(pct(lat_ms, 50), 1), "p95_ms": round(pct(lat_ms, 95), 1),
            "p99_ms": round(pct(lat_ms, 99), 1), "max_ms": round(max(lat_ms), 1),
            "max_schedule_lag_ms": round(max(res["lags"]) * 1000, 1),
            "server_cpu_ms_per_request": round(server_cpu_s * 1000 / max(1, len(lat_ms)), 2),
            "client_cpu_ms_per_request": round(res["client_cpu_s"] * 1000 / max(1, len(lat_ms)), 2),
            "machine_load_avg_at_start": round(load0, 1), "cpus": os.cpu_count(),
            "errors": res["errors"], "posts": res["posted"], "accepted": res["accepted"],
            "rows": rows[0], "distinct_tokens": rows[1], "events": events,
        }
        ok = rows[0] == res["accepted"] == rows[1]
        summary["nothing_lost_nothing_doubled"] = ok
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        return 0 if ok and not res["errors"] else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        if not args.keep_db:
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
