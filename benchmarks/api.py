"""Load benchmark of the Open311 API: uvicorn on loopback, real PostGIS in a scratch database.

    .venv/bin/python benchmarks/api.py [--rate 200] [--duration 20] [--workers 1] [--buildings 5000]

Builds a synthetic district near Helsinki (a grid of buildings and water mains) in a scratch
database, issues an API key, starts ``python -m incidents serve``, and drives an open-loop load
(requests scheduled at a fixed rate, from a separate process, httpx in threads): POST
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from gis.db import database_url, make_engine  # noqa: E402
from incidents.keys import create_api_key  # noqa: E402

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

    Plain ``http.client`` keep-alive connections, one per thread: httpx costs several times more
    CPU per request, and on a 2-core machine the generator competes with the server for it."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    local = threading.local()

    def request(method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        for attempt in range(2):
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                conn.request(method, parts.path + path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                conn.close()
                local.conn = None
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

    def one(i: int, scheduled: float, payload: dict | None) -> None:
        t0 = time.perf_counter()
        lags.append(t0 - scheduled)
        try:
            if payload is None:
                rid = accepted[rng.randrange(len(accepted))] if accepted else "1"
                status, _ = request("GET", f"/requests/{rid}.json", None)
                ok = status in (200, 404)
            else:
                # a retry after a dropped connection re-sends the same token: never a double row
                status, body = request("POST", "/requests.json", json.dumps(payload).encode())
                ok = status == 201 or status == 200
                if ok:
                    accepted.append(json.loads(body)[0]["service_request_id"])
            if not ok:
                errors[str(status)] = errors.get(str(status), 0) + 1
        except (OSError, http.client.HTTPException) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        latencies.append(time.perf_counter() - t0)

    total = int(rate * duration_s)
    cpu0 = time.process_time()
    start = time.perf_counter() + 0.2
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
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
            pool.submit(one, i, scheduled, payload)
        send_elapsed = time.perf_counter() - start
    elapsed = time.perf_counter() - start
    out.put({"latencies": latencies, "lags": lags, "accepted": len(set(accepted)), "posted": posted,
             "errors": errors, "elapsed": elapsed, "send_elapsed": send_elapsed, "sent": total,
             "client_cpu_s": time.process_time() - cpu0})


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


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--buildings", type=int, default=5000)
    ap.add_argument("--get-fraction", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=128)
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
            admin = create_engine(base_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
