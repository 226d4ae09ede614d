"""First load of the residents' page on a slow mobile connection, in headless Chromium with the
network throttled through CDP (``Network.emulateNetworkConditions``): by default 1.6 Mbps down,
750 kbps up, 150 ms round trip. Per page: time to first byte, DOMContentLoaded, load, bytes
transferred, requests — first visit (empty cache), the repeat visit with the service worker in
control, and the same page offline.

Run on a database with the demo city (``python -m data load-demo``; ``python -m billing demo`` and
``python -m billing run --period YYYY-MM`` for tariffs and charges):
``.venv/bin/python benchmarks/resident_first_load.py [--url http://127.0.0.1:8520] [--down-kbps 1600]
[--rtt-ms 150]`` — without ``--url`` it starts ``python -m resident serve`` on a free port of its own.
Prints figures only (no assertions).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMING = """() => { const n = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  return {ttfb: n.responseStart, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,
          bytes: n.transferSize + res.reduce((a, r) => a + (r.transferSize || 0), 0), requests: 1 + res.length,
          sw: !!navigator.serviceWorker.controller}; }"""


@contextlib.contextmanager
def server(url: str | None) -> Iterator[str]:
    if url:
        yield url.rstrip("/")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ZHKH_RESIDENT_RATE_PER_MIN": "100000"}
    proc = subprocess.Popen([sys.executable, "-m", "resident", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--down-kbps", type=float, default=1600)
    parser.add_argument("--up-kbps", type=float, default=750)
    parser.add_argument("--rtt-ms", type=float, default=150)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    from sqlalchemy import text

    from gis.db import get_engine
    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS

    with get_engine().connect() as conn:
        bid = conn.execute(text("""
            SELECT b.id FROM buildings b LEFT JOIN premises p ON p.building_id = b.id WHERE b.address IS NOT NULL
            GROUP BY b.id ORDER BY count(p.id) DESC, b.id LIMIT 1""")).scalar()   # the biggest block of flats
    if bid is None:
        print("no buildings: load the demo city first (python -m data load-demo)", file=sys.stderr)
        return 2
    conditions = {"offline": False, "latency": args.rtt_ms, "downloadThroughput": args.down_kbps * 1000 / 8,
                  "uploadThroughput": args.up_kbps * 1000 / 8}
    pages = [("start", "/?lang=ru"), ("address", f"/address/{bid}?lang=ru"), ("tariffs", f"/address/{bid}/tariffs?lang=ru")]
    print(f"throttled: {args.down_kbps:g} kbps down, {args.up_kbps:g} kbps up, {args.rtt_ms:g} ms RTT; building {bid}")
    print(f"{'page':<9} {'visit':<8} {'TTFB ms':>8} {'DCL ms':>8} {'load ms':>8} {'bytes':>8} {'req':>4}  sw")
    with server(args.url) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, path in pages:
            context = browser.new_context(viewport={"width": 412, "height": 915}, is_mobile=True)
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
            cdp.send("Network.emulateNetworkConditions", conditions)
            for visit in ("first", "repeat"):
                page.goto(base + path, wait_until="load")
                t = page.evaluate(TIMING)
                print(f"{name:<9} {visit:<8} {t['ttfb']:>8.0f} {t['dcl']:>8.0f} {t['load']:>8.0f} {t['bytes']:>8} "
                      f"{t['requests']:>4}  {'yes' if t['sw'] else 'no'}")
                page.wait_for_function("navigator.serviceWorker.ready.then(() => true)")
            context.set_offline(True)
            page.goto(base + path, wait_until="load")
            t = page.evaluate(TIMING)
            print(f"{name:<9} {'offline':<8} {t['ttfb']:>8.0f} {t['dcl']:>8.0f} {t['load']:>8.0f} {t['bytes']:>8} "
                  f"{t['requests']:>4}  {'yes' if t['sw'] else 'no'}")
            context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
