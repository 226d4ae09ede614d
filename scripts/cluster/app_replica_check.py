"""Kill the app replica a signed-in browser is on and check it is still signed in through HAProxy.

    echo PASSWORD | .venv/bin/python -m scripts.cluster.app_replica_check [--login dispatcher] [--out var/cluster/shots]

Against `make cluster`: headless Chromium signs in on :9501, reads HAProxy's stickiness cookie
(``ZHKHSRV=app1|app2``), ``kill -9`` that replica, reloads (what Streamlit's own reconnect does), and
waits for the sidebar's «Выйти» — the session lives in the database (``user_sessions``), so the other
replica knows the browser. Screenshots before and after; one JSON line with what happened. The killed
replica is started again by ``make cluster``. Exit 1 when the browser lands on the login form.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from scripts.cluster.manager import DEFAULT_BASE, FRONT_DOORS, HOST, status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--login", default="dispatcher")
    ap.add_argument("--out", type=Path, default=DEFAULT_BASE / "shots")
    args = ap.parse_args(argv)
    password = sys.stdin.readline().strip()
    from playwright.sync_api import expect, sync_playwright  # the browser tests' dependency

    from scripts.screenshot import CHROMIUM, CHROMIUM_ARGS

    args.out.mkdir(parents=True, exist_ok=True)
    url = f"http://{HOST}:{FRONT_DOORS['app']}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_label("Логин").fill(args.login)
        page.get_by_role("textbox", name="Пароль", exact=True).fill(password)
        with page.expect_response(lambda r: r.url.endswith("/session/cookie") and r.request.method == "POST",
                                  timeout=60000) as answer:
            page.get_by_role("button", name="Войти").click()
        answer.value.finished()
        expect(page.get_by_role("button", name="Выйти")).to_be_visible(timeout=60000)
        page.screenshot(path=str(args.out / "before.png"))
        replica = {c["name"]: c["value"] for c in page.context.cookies()}["ZHKHSRV"]
        pid = status(DEFAULT_BASE)["app"][int(replica.removeprefix("app")) - 1]["pid"]
        os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()
        page.reload(wait_until="domcontentloaded")
        expect(page.get_by_role("button", name="Выйти")).to_be_visible(timeout=60000)
        took = time.monotonic() - t0
        now_on = {c["name"]: c["value"] for c in page.context.cookies()}.get("ZHKHSRV")
        login_form = page.get_by_label("Логин").count() > 0
        page.screenshot(path=str(args.out / "after.png"))
        browser.close()
    print(json.dumps({"killed": replica, "pid": pid, "now_on": now_on, "signed_in_after_s": round(took, 1),
                      "login_form_shown": login_form, "screenshots": str(args.out)}))
    return 1 if login_form else 0


if __name__ == "__main__":
    sys.exit(main())
