"""The control room for a whole shift: N wall screens on one replica (issue 23).

    DATABASE_URL=... .venv/bin/python benchmarks/control_room.py [--sessions 8,16,32] [--seconds 60]
        [--refresh 10] [--before /tmp/cr-before] [--reports 300]
    DATABASE_URL=postgresql://postgres@127.0.0.1:9432/zhkh .venv/bin/python benchmarks/control_room.py \
        --app-url http://127.0.0.1:9501 --app-pids <make cluster-status's app pids>   # one replica of make cluster

Needs a database with the demo city (``python -m data load-demo``) and the test accounts
(``dispatcher`` with the password of tests/ui/conftest.py). ``--reports`` files open reports until
that many are open (the wall screen of a busy shift). For each app — ``--before`` (another checkout,
e.g. ``git worktree add /tmp/cr-before <commit>``, served with this virtualenv) and this one — it
starts the app as ``make demo`` does (``streamlit run app_server.py``, a tile server beside it), and
for each N opens N pages of one signed-in headless Chromium on ``/control?kiosk=1``. Everything is
measured from inside the pages, not by the driver:

- a refresh = a rerun request the page sends on its websocket → the «Обновлено» line changing;
  its time is the first change after the request; a request that no change follows within one
  period is **missed** (the old timer asked regardless; a request queued behind a run counts);
- ``updates/min``: screen updates per page and minute (the period is the most one can get);
- ``KB/refresh``: websocket bytes received per page and screen update;
- ``--gc``: this app once more with ``runner.postScriptGC`` back on (the reason it is off);
- app CPU (the Streamlit process) and browser CPU (Chromium and the driver), from /proc, in % of
  one core over the measured window; the load average of the machine before and after.

Nothing is asserted; the table goes to docs/performance.md.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import free_port, running  # noqa: E402

CLOCK = os.sysconf("SC_CLK_TCK")

# in every page: the time of each websocket send (rerun requests), the bytes received, and each change
# of the «Обновлено» line (old page: Streamlit's caption; new: .cr-updated)
HOOK = """
(() => {
  if (window.top !== window) return;
  const m = window.__cr = {sends: [], changes: [], bytes: 0};
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (!this.__crHooked) {
      this.__crHooked = true;
      this.addEventListener('message', e => { m.bytes += e.data.byteLength ?? e.data.size ?? e.data.length ?? 0; });
    }
    m.sends.push(Date.now());
    return send.call(this, data);
  };
  let last = null;
  const look = () => {
    const el = [...document.querySelectorAll('.cr-updated, [data-testid=stCaptionContainer]')]
      .find(e => /Обновлено|Updated/.test(e.innerText));
    const text = el ? el.innerText : null;
    if (text && text !== last) { m.changes.push({t: Date.now(), bytes: m.bytes}); last = text; }
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


def ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError):
        return 0


def descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def ensure_reports(n: int) -> None:
    """Open reports until ``n`` are open (spread over the city's buildings)."""
    import random

    from sqlalchemy import text

    from gis.db import get_engine
    from incidents import service as S

    eng = get_engine()
    with eng.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM incidents WHERE status NOT IN ('closed', 'resolved', 'rejected')")).scalar_one()
        pts = conn.execute(text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings ORDER BY id")).all()
    rnd = random.Random(23)
    codes = ["burst", "no_water", "low_pressure", "no_hot_water", "elevator", "sewer"]
    for lon, lat in rnd.sample(pts, max(n - have, 0)):
        S.create_incident(eng, service_code=rnd.choice(codes), lon=lon, lat=lat, description="benchmark", channel="sensor")


def measure(url: str, app_pid: int | list[int], n: int, seconds: float, refresh: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from tests.ui.conftest import login

    me = os.getpid()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
        ctx.add_init_script(HOOK)
        first = ctx.new_page()
        login(first, url, "dispatcher")
        pages = [first, *[ctx.new_page() for _ in range(n - 1)]]
        for page in pages:
            page.goto(f"{url}/control?kiosk=1&refresh={refresh}", wait_until="commit")
        deadline = time.time() + 300
        for page in pages:   # every screen has shown the control room once (a saturated app may never)
            with contextlib.suppress(Exception):
                page.wait_for_function("() => window.__cr && window.__cr.changes.length > 0",
                                       timeout=max(deadline - time.time(), 1) * 1000)
        time.sleep(refresh)   # warm-up: one period
        for page in pages:
            page.evaluate("() => { window.__cr.sends = []; window.__cr.changes = []; window.__cr.bytes = 0; }")
        browser_pids = [q for q in descendants(me)]
        app_pids = app_pid if isinstance(app_pid, list) else [app_pid]
        app_cpu = lambda: sum(ticks(a) + sum(ticks(q) for q in descendants(a)) for a in app_pids)  # noqa: E731
        app0, br0, t0 = app_cpu(), sum(ticks(q) for q in browser_pids), time.time()
        load0 = os.getloadavg()[0]
        time.sleep(seconds)
        app1, br1, t1 = app_cpu(), sum(ticks(q) for q in browser_pids), time.time()
        data = [page.evaluate("() => window.__cr") for page in pages]
        load1 = os.getloadavg()[0]
        browser.close()
    took: list[float] = []
    missed = requests = updates = 0
    received = 0
    end_ms = t1 * 1000
    for d in data:
        changes = [c["t"] for c in d["changes"]]
        updates += len(changes)
        received += d["bytes"]
        for s in d["sends"]:
            if s > end_ms - refresh * 1000:   # too late in the window to be judged
                continue
            requests += 1
            after = [c for c in changes if c >= s]
            if not after or after[0] - s > refresh * 1000:
                missed += 1
            if after:
                took.append((after[0] - s) / 1000)
    took.sort()
    q = (lambda f: took[min(int(f * len(took)), len(took) - 1)] if took else float("nan"))
    return {"n": n, "p50": q(0.5), "p95": q(0.95), "requests": requests, "missed": missed,
            "updates_per_min": updates / n / ((t1 - t0) / 60),
            "kb_per_refresh": received / max(updates, 1) / 1024,
            "app_cpu": 100 * (app1 - app0) / CLOCK / (t1 - t0), "browser_cpu": 100 * (br1 - br0) / CLOCK / (t1 - t0),
            "load": (load0 + load1) / 2}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", default="8,16")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--refresh", type=int, default=10)
    ap.add_argument("--before", default=None, help="a checkout of the code before (served with this virtualenv)")
    ap.add_argument("--reports", type=int, default=300)
    ap.add_argument("--gc", action="store_true",
                    help="also this app with Streamlit's full garbage collection after every run (runner.postScriptGC)")
    ap.add_argument("--app-url", default=None,
                    help="measure a running app instead (e.g. make cluster's HAProxy door http://127.0.0.1:9501: one "
                         "browser's pages stick to one replica); DATABASE_URL = its database")
    ap.add_argument("--app-pids", default="", help="with --app-url: the app processes whose CPU is counted (comma-separated)")
    args = ap.parse_args()

    from gis.db import database_url

    if args.app_url:
        ensure_reports(args.reports)
        pids = [int(x) for x in args.app_pids.split(",") if x]
        for n in (int(x) for x in args.sessions.split(",")):
            r = {**measure(args.app_url.rstrip("/"), pids, n, args.seconds, args.refresh), "app": args.app_url}
            print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}), flush=True)
        return

    db = database_url()
    ensure_reports(args.reports)
    apps: list[tuple[str, Path, dict[str, str]]] = [
        *([("before", Path(args.before), {})] if args.before else []), ("after", ROOT, {}),
        *([("after+gc", ROOT, {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"})] if args.gc else [])]
    rows = []
    art = ROOT / "artifacts"
    art.mkdir(exist_ok=True)
    tiles = free_port()
    env0 = {**os.environ, "DATABASE_URL": db, "ZHKH_TILES_PORT": str(tiles),
            "ZHKH_TILES_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png",
            "ZHKH_SLA_RULES_FILE": str(ROOT / "incidents" / "rules" / "helsinki.yaml")}
    with running(["-m", "gis", "serve-tiles", "--port", str(tiles)], env=env0, cwd=ROOT,
                 health_url=f"http://127.0.0.1:{tiles}/health", log=art / "bench-cr-tiles.log", what="tiles", timeout_s=90):
        for n in (int(x) for x in args.sessions.split(",")):
            for name, where, extra in apps:
                port = free_port()
                env = {**env0, "PYTHONPATH": str(where), **extra}
                with running(["-m", "streamlit", "run", "app_server.py", "--server.port", str(port),
                              "--server.headless", "true", "--server.fileWatcherType", "none"], env=env, cwd=where,
                             health_url=f"http://127.0.0.1:{port}/_stcore/health", what="the app", timeout_s=90,
                             log=art / f"bench-cr-{name.replace('+', '-')}.log") as proc:
                    r = measure(f"http://127.0.0.1:{port}", proc.pid, n, args.seconds, args.refresh)
                r["app"] = name
                rows.append(r)
                print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}), flush=True)
    print()
    print("| app | N | refresh p50 / p95 | missed / requests | updates/min per screen | KB per refresh | app CPU | browsers CPU | load avg |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['app']} | {r['n']} | {r['p50']:.2f} / {r['p95']:.2f} s | {r['missed']} / {r['requests']} | "
              f"{r['updates_per_min']:.1f} | {r['kb_per_refresh']:.1f} | {r['app_cpu']:.0f} % | {r['browser_cpu']:.0f} % | "
              f"{r['load']:.1f} |")


if __name__ == "__main__":
    main()
