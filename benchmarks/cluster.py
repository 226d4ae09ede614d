"""The cluster measured (issue 17, docs/scaling.md): through HAProxy, 1 replica vs 2, and five leader kills.

    make cluster && .venv/bin/python benchmarks/cluster.py [--seconds 10] [--kills 5] [--skip-http] [--skip-failover]

Needs the cluster of ``make cluster`` running (its state in var/cluster). Two parts:

1. **Replicas.** For the residents' page (address search), Open311 (a report by id) and the tile server
   (building tiles of the demo city at z16): first a closed loop (32 clients, 5 s) through HAProxy with one
   replica finds what one replica serves; then an open loop at twice that rate for ``--seconds`` with
   one replica (the second put in maintenance through HAProxy's admin socket) and with both. Reported:
   answered req/s, p50 and p99 latency, errors. The same offered load both times.
2. **Failover.** ``--kills`` times: a writer commits numbered rows through the write port (9432) one after
   another; the leader's postmaster is killed (``kill -9``); measured is the time until the next commit
   succeeds; then the cluster is waited on until the old leader is a replica again. At the end every
   acknowledged row is looked for: lost = acknowledged but missing, doubled = stored twice.

Two cores shared by the servers, PostgreSQL, HAProxy and this client: the figures are the machine's, the
ratios are the point.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "var" / "cluster"
SOCK = BASE / "haproxy.sock"


def status() -> dict:
    done = subprocess.run([sys.executable, "-m", "scripts.cluster", "--base", str(BASE), "status"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def haproxy(cmd: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(SOCK))
        s.sendall(cmd.encode() + b"\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


def wait_until(ok, timeout_s: float, what: str) -> float:
    t0 = time.monotonic()
    while True:
        try:
            if ok():
                return time.monotonic() - t0
        except Exception:  # noqa: BLE001 - not yet
            pass
        if time.monotonic() - t0 > timeout_s:
            raise SystemExit(f"error: {what}: not within {timeout_s} s")
        time.sleep(0.05)


# ---- part 1: replicas -------------------------------------------------------------------------------------------

def targets(st: dict) -> dict:
    read = st["read_url"]
    with psycopg.connect(read) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM incidents ORDER BY id LIMIT 500")]
        names = [r[0][:4] for r in conn.execute("SELECT DISTINCT street FROM buildings WHERE street IS NOT NULL "
                                                 "AND length(street) >= 4 LIMIT 50")] or ["Unio"]
    # z16 tiles over the demo city (Helsinki centre)
    import math

    def tile(lat: float, lon: float, z: int) -> tuple[int, int]:
        n = 2 ** z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return x, y
    x0, y1 = tile(60.1641, 24.9351, 16)
    x1, y0 = tile(60.1791, 24.9534, 16)
    tiles = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return {
        "resident": (st["resident"][0]["port"] - 1, lambda r: f"/api/addresses?q={r.choice(names)}"),
        "open311": (st["open311"][0]["port"] - 1, lambda r: f"/open311/v2/requests/{r.choice(ids)}.json"),
        "tiles": (st["tiles"][0]["port"] - 1,
                  lambda r: "/tiles/buildings/16/{}/{}.pbf?b={}".format(*r.choice(tiles), r.random())),
    }


async def closed_loop(port: int, path, seconds: float, clients: int = 32) -> float:
    done = 0
    end = time.monotonic() + seconds
    rng = random.Random(1)

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < end:
            r = await client.get(path(rng), headers={"X-Forwarded-For": f"10.{rng.randrange(256)}.{rng.randrange(256)}.1"})
            if r.status_code < 400:
                done += 1
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits) as client:
        t0 = time.monotonic()
        await asyncio.gather(*(one(client) for _ in range(clients)))
        return done / (time.monotonic() - t0)


async def open_loop(port: int, path, rate: float, seconds: float) -> dict:
    rng = random.Random(2)
    lat: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits) as client:
        async def one(p: str, xff: str) -> None:
            nonlocal errors
            t = time.monotonic()
            try:
                r = await client.get(p, headers={"X-Forwarded-For": xff})
                if r.status_code >= 400:
                    errors += 1
                    return
            except httpx.HTTPError:
                errors += 1
                return
            lat.append(time.monotonic() - t)
        tasks = []
        t0 = time.monotonic()
        n = int(rate * seconds)
        for i in range(n):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(path(rng), f"10.{rng.randrange(256)}.{rng.randrange(256)}.1")))
        await asyncio.gather(*tasks)
        took = time.monotonic() - t0
    lat.sort()
    return {"offered_rps": round(rate, 1), "answered_rps": round(len(lat) / took, 1),
            "p50_ms": round(1000 * lat[len(lat) // 2], 1) if lat else None,
            "p99_ms": round(1000 * lat[int(len(lat) * 0.99) - 1], 1) if lat else None, "errors": errors}


def replicas_part(st: dict, seconds: float) -> list[dict]:
    rows = []
    for service, (port, path) in targets(st).items():
        second = f"{service}/{service}2"
        try:
            haproxy(f"disable server {second}")
            one_capacity = asyncio.run(closed_loop(port, path, 5.0))
            rate = max(5.0, 2.0 * one_capacity)
            one = asyncio.run(open_loop(port, path, rate, seconds))
        finally:
            haproxy(f"enable server {second}")
        wait_until(lambda: f"{service},{service}2," in (csv := haproxy("show stat")) and
                   any(line.startswith(f"{service},{service}2,") and ",UP," in line for line in csv.splitlines()),
                   30, f"{second} up again")
        two = asyncio.run(open_loop(port, path, rate, seconds))
        rows.append({"service": service, "closed_loop_1_replica_rps": round(one_capacity, 1),
                     "1_replica": one, "2_replicas": two})
        print(json.dumps(rows[-1]), flush=True)
    return rows


# ---- part 2: failover -------------------------------------------------------------------------------------------

class Writer(threading.Thread):
    def __init__(self, url: str, run_id: str) -> None:
        super().__init__(daemon=True)
        self.url, self.run_id = url, run_id
        self.acked: list[int] = []
        self.last_ack = time.monotonic()
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(self.url, connect_timeout=2, autocommit=True)
                conn.execute("INSERT INTO bench_failover (run_id, n) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                             (self.run_id, n))
                self.acked.append(n)
                self.last_ack = time.monotonic()
                n += 1
            except psycopg.Error:
                # unknown outcome: the same number is written again (ON CONFLICT: at most once)
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()


def failover_part(kills: int) -> list[dict]:
    st = status()
    url = st["database_url"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_failover (run_id text, n int, at timestamptz DEFAULT now(), "
                     "PRIMARY KEY (run_id, n))")
    rows = []
    for k in range(1, kills + 1):
        run_id = f"{int(time.time())}-{k}"
        w = Writer(url, run_id)
        w.start()
        wait_until(lambda: len(w.acked) >= 200, 30, "writes before the kill")
        leader = next(p for p in status()["postgres"] if p["role"] == "leader")
        before = len(w.acked)
        t_kill = time.monotonic()
        os.kill(leader["pid"], signal.SIGKILL)
        wait_until(lambda: len(w.acked) > before and w.last_ack > t_kill, 60, "a commit after the kill")
        writable = w.last_ack - t_kill
        time.sleep(1.0)  # a second of writes on the new leader
        w.stop.set()
        w.join(10)

        def back() -> bool:
            nodes = {p["name"]: p for p in status()["postgres"]}
            return nodes[leader["name"]]["role"] == "replica" and sorted(p["role"] for p in nodes.values()) == \
                ["leader", "replica"]
        wait_until(back, 180, "the old leader back as a replica")
        rejoin = time.monotonic() - t_kill
        wait_until(lambda: any(m.get("role") == "sync_standby" for m in json.loads(
            httpx.get(f"http://127.0.0.1:{status()['postgres'][0]['patroni_port']}/cluster").text)["members"]),
            120, "a synchronous standby again")
        with psycopg.connect(url) as conn:
            stored = [r[0] for r in conn.execute("SELECT n FROM bench_failover WHERE run_id = %s", (run_id,))]
        acked = set(w.acked)
        row = {"kill": k, "killed": leader["name"], "writable_after_s": round(writable, 2),
               "old_leader_replica_after_s": round(rejoin, 1), "acknowledged": len(acked), "stored": len(stored),
               "lost": len(acked - set(stored)), "doubled": len(stored) - len(set(stored))}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-failover", action="store_true")
    args = ap.parse_args()
    st = status()
    out: dict = {}
    if not args.skip_http:
        out["replicas"] = replicas_part(st, args.seconds)
    if not args.skip_failover:
        out["failover"] = failover_part(args.kills)
        times = [r["writable_after_s"] for r in out["failover"]]
        out["failover_summary"] = {"median_writable_s": statistics.median(times), "max_writable_s": max(times),
                                   "lost": sum(r["lost"] for r in out["failover"]),
                                   "doubled": sum(r["doubled"] for r in out["failover"])}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
