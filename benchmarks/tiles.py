"""Vector-tile latency and size per zoom from concurrent clients, beside today's viewport queries.

On the synthetic city of ``benchmarks/city.py`` (generated if missing, reused otherwise):

1. refreshes the overviews (the city loader writes with COPY, past the import's hook) and times it;
2. starts the real server (``python -m gis serve-tiles``) as a subprocess on a free port;
3. for each zoom (default 10..18) picks ``--tiles`` random tile positions over the city and
   requests every layer there (buildings, pipes, valves, hydrants, sources), shuffled, from
   ``--clients`` concurrent clients (threads, one keep-alive connection each); prints p50 / p95 /
   max latency and tile sizes per zoom, per layer and overall, against the targets
   (p95 ≤ 150 ms, p50 ≤ 30 ms, no tile over 500 KB);
4. in the same run, for ``--viewports`` random 1200×800 px viewports at z13 / z15 / z17, times
   today's path (``gis.queries.layer_in_bbox`` + the folium render, as ``benchmarks/viewport.py``)
   and the tiles covering the same viewport fetched by the same clients (wall time, bytes).

    .venv/bin/python benchmarks/tiles.py                      # 100 k buildings, 1 M pipes
    .venv/bin/python benchmarks/tiles.py --buildings 10000 --pipes 100000 --db zhkh_bench_small

Requests only go to 127.0.0.1, bounded in number; the server is stopped at the end.
"""
from __future__ import annotations

import argparse
import math
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.city import CityParams, bench_url, ensure_city  # noqa: E402
from benchmarks.viewport import measure  # noqa: E402
from gis.overviews import refresh_overviews  # noqa: E402
from gis.queries import LAYERS, city_bounds, layer_in_bbox, viewport_bbox  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_P50_MS, TARGET_P95_MS, TARGET_MAX_BYTES = 30.0, 150.0, 500_000


@dataclass(frozen=True)
class Hit:
    """One request as a client saw it."""

    layer: str
    z: int
    ms: float
    status: int
    size: int


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_of_bbox(bbox: tuple[float, float, float, float], z: int) -> list[tuple[int, int]]:
    (xa, ya), (xb, yb) = tile_of(bbox[0], bbox[3], z), tile_of(bbox[2], bbox[1], z)
    return [(x, y) for x in range(xa, xb + 1) for y in range(ya, yb + 1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int, threads: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "ZHKH_TILES_THREADS": str(threads)}
    out = log.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "gis", "serve-tiles", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve-tiles exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"serve-tiles did not answer within 120 s; see {log}")


def fetch_all(base: str, jobs: list[tuple[str, int, int, int]], clients: int) -> tuple[list[Hit], float]:
    """Request every (layer, z, x, y) of ``jobs`` from ``clients`` threads; returns the hits and
    the wall time in ms."""
    work: queue.Queue[tuple[str, int, int, int]] = queue.Queue()
    for j in jobs:
        work.put(j)
    hits: list[Hit] = []
    lock = threading.Lock()

    def client() -> None:
        mine: list[Hit] = []
        with httpx.Client(base_url=base, timeout=60) as http:
            while True:
                try:
                    layer, z, x, y = work.get_nowait()
                except queue.Empty:
                    break
                t0 = time.perf_counter()
                r = http.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf")
                ms = (time.perf_counter() - t0) * 1000
                if r.status_code not in (200, 204):
                    raise SystemExit(f"/tiles/{layer}/{z}/{x}/{y}.pbf answered {r.status_code}: {r.text[:200]}")
                mine.append(Hit(layer, z, ms, r.status_code, len(r.content)))
        with lock:
            hits.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return hits, (time.perf_counter() - t0) * 1000


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def row(label: str, hits: list[Hit]) -> str:
    ms = [h.ms for h in hits]
    sizes = [h.size for h in hits]
    empty = sum(1 for h in hits if h.status == 204)
    return (f"| {label:<10} | {len(hits):>6} | {empty:>5} | {pct(ms, 50):>7.1f} | {pct(ms, 95):>7.1f} "
            f"| {max(ms):>7.1f} | {pct(sizes, 95) / 1000:>8.1f} | {max(sizes) / 1000:>8.1f} |")


HEAD = ("| zoom       | tiles  | empty | p50 ms  | p95 ms  | max ms  | p95 KB   | max KB   |\n"
        "|------------|-------:|------:|--------:|--------:|--------:|---------:|---------:|")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buildings", type=int, default=100_000)
    ap.add_argument("--pipes", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--db", default="zhkh_bench")
    ap.add_argument("--url", default=None)
    ap.add_argument("--zooms", type=int, nargs="+", default=list(range(10, 19)))
    ap.add_argument("--tiles", type=int, default=200, help="random tile positions per zoom (every layer at each)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--threads", type=int, default=4, help="the server's worker threads (ZHKH_TILES_THREADS)")
    ap.add_argument("--viewports", type=int, default=5, help="viewports per zoom for the comparison (0: skip)")
    ap.add_argument("--no-refresh", action="store_true", help="keep the overviews as they are")
    a = ap.parse_args(argv)
    if not (1 <= a.clients <= 64 and 1 <= a.tiles <= 5000 and 0 <= a.viewports <= 100):
        ap.error("--clients 1..64, --tiles 1..5000, --viewports 0..100")

    engine = ensure_city(CityParams(a.buildings, a.pipes, a.seed), db=a.db, url=a.url)
    url = bench_url(a.db, a.url)
    if not a.no_refresh:
        with engine.begin() as conn:
            print(refresh_overviews(conn).summary())
    with engine.connect() as conn:
        bounds = city_bounds(conn)
    if bounds is None:
        raise SystemExit("the benchmark city is empty")
    rng = random.Random(a.seed)
    print(f"city {a.db}: {a.buildings:,} buildings, {a.pipes:,} pipes; {a.tiles} tile positions per zoom × "
          f"{len(LAYERS)} layers, {a.clients} concurrent clients, server threads {a.threads}\n")

    port = free_port()
    log = ROOT / "artifacts" / "tiles_bench_server.log"
    log.parent.mkdir(exist_ok=True)
    server = start_server(url, port, a.threads, log)
    base = f"http://127.0.0.1:{port}"
    try:
        jobs = []
        for z in a.zooms:
            for _ in range(a.tiles):
                x, y = tile_of(rng.uniform(bounds[0], bounds[2]), rng.uniform(bounds[1], bounds[3]), z)
                jobs += [(layer, z, x, y) for layer in LAYERS]
        rng.shuffle(jobs)
        fetch_all(base, jobs[: 5 * a.clients], a.clients)  # warm-up: connections, plans
        hits, wall = fetch_all(base, jobs, a.clients)
        print(f"{len(hits)} requests in {wall / 1000:.1f} s ({len(hits) / wall * 1000:.0f} tiles/s)\n")
        print(HEAD)
        for z in a.zooms:
            print(row(f"z{z}", [h for h in hits if h.z == z]))
        print(row("all", hits))
        print("\n" + HEAD.replace("| zoom      ", "| layer     "))
        for layer in LAYERS:
            print(row(layer, [h for h in hits if h.layer == layer]))
        ms = [h.ms for h in hits]
        biggest = max(hits, key=lambda h: h.size)
        ok = pct(ms, 50) <= TARGET_P50_MS and pct(ms, 95) <= TARGET_P95_MS and biggest.size <= TARGET_MAX_BYTES
        print(f"\ntargets p50 ≤ {TARGET_P50_MS:.0f} ms, p95 ≤ {TARGET_P95_MS:.0f} ms, max ≤ {TARGET_MAX_BYTES // 1000} KB: "
              f"{'met' if ok else 'NOT met'} (p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms, biggest tile "
              f"{biggest.size / 1000:.1f} KB: {biggest.layer} z{biggest.z})\n", flush=True)

        if a.viewports:
            compare(engine, base, bounds, rng, a)
    finally:
        server.terminate()
        server.wait(timeout=30)
    engine.dispose()
    return 0


def compare(engine, base: str, bounds, rng: random.Random, a: argparse.Namespace) -> None:
    """Today's viewport path and the tiles of the same viewports, one after the other."""
    width, height = 1200, 800
    print(f"## The same {width}×{height} px viewports: today's query + render vs their tiles "
          f"({a.viewports} viewports per zoom)\n")
    print("| zoom | layer     | viewport query ms p50 / p95 | + render ms p50 | payload MB p50 "
          "| tiles | tiles wall ms p50 / p95 | tile bytes MB p50 |")
    print("|-----:|-----------|----------------------------:|----------------:|---------------:"
          "|------:|------------------------:|------------------:|")
    with engine.connect() as conn:
        for z in (13, 15, 17):
            centres = [(rng.uniform(bounds[0], bounds[2]), rng.uniform(bounds[1], bounds[3]))
                       for _ in range(a.viewports)]
            for layer in ("buildings", "pipes"):
                layer_in_bbox(conn, layer, viewport_bbox(*centres[0], z, width, height), z)  # warm-up

                def run_for(c, _z=z, _l=layer):
                    def run():
                        r = layer_in_bbox(conn, _l, viewport_bbox(*c, _z, width, height), _z)
                        return r.features, {"truncated": r.truncated}
                    return run

                m = measure([run_for(c) for c in centres], lambda i, cs=centres: cs[i], z)
                walls, sizes, counts = [], [], []
                for c in centres:
                    tiles = tiles_of_bbox(viewport_bbox(*c, z, width, height), z)
                    hits, wall = fetch_all(base, [(layer, z, x, y) for x, y in tiles], a.clients)
                    walls.append(wall)
                    sizes.append(sum(h.size for h in hits))
                    counts.append(len(tiles))
                print(f"| {z:>4} | {layer:<9} | {m['q50']:>12.0f} / {m['q95']:<12.0f} | {m['r50']:>15.0f} "
                      f"| {m['bytes50'] / 1e6:>14.2f} | {pct(counts, 50):>5.0f} | {pct(walls, 50):>10.0f} / "
                      f"{pct(walls, 95):<11.0f} | {pct(sizes, 50) / 1e6:>17.2f} |", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
