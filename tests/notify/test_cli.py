"""The commands' bad input: one line on stderr, exit 2, no traceback."""
from __future__ import annotations

import os
import subprocess
import sys

from settings import ROOT


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=60)


def test_worker_without_an_smtp_server_exits_2(db_url: str) -> None:
    r = run(["-m", "notify", "worker", "--once"], DATABASE_URL=db_url, ZHKH_SMTP_HOST="")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "ZHKH_SMTP_HOST" in r.stderr
    assert "Traceback" not in r.stderr


def test_resident_serve_refuses_a_bad_port() -> None:
    r = run(["-m", "resident", "serve", "--port", "70000"])
    assert r.returncode == 2 and "--port" in r.stderr and "Traceback" not in r.stderr
