"""A small cluster of its own for the failover tests: etcd, two PostgreSQL nodes under Patroni
(synchronous_mode), HAProxy, two Open311 replicas and two of the operators' app, started by the same manager as
``make cluster`` (``python -m scripts.cluster``) on ports moved by +100 (or the next free hundred), beside an
operator's cluster, under
``var/cluster-test`` (PostgreSQL runs as ``postgres``: a directory of pytest's own, mode 700, would
not do). Torn down and removed afterwards."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OFFSETS = range(100, 1000, 100)  # the first whose ports are all free (another run may hold +100)


def cluster_cmd(base: Path, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scripts.cluster", "--base", str(base), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout_s, env={**os.environ})


@pytest.fixture(scope="session")
def small_cluster() -> Iterator[dict]:
    """The running cluster's status (``make cluster-status``'s JSON) plus ``base``."""
    base = ROOT / "var" / f"cluster-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    cluster_cmd(base, "down", "--wipe")  # a previous run killed before its teardown
    for offset in OFFSETS:
        started = cluster_cmd(base, "up", "--port-offset", str(offset), "--services", "open311,app", "--replicas", "2",
                              "--no-demo")
        if started.returncode != 2 or "is taken by another process" not in started.stderr:
            break
        cluster_cmd(base, "down", "--wipe")
    try:
        assert started.returncode == 0, started.stderr + started.stdout[-2000:]
        status = json.loads(started.stdout.strip().splitlines()[-1])
        yield {**status, "base": base}
    finally:
        stopped = cluster_cmd(base, "down", "--wipe")
        assert stopped.returncode == 0, stopped.stderr


def status_of(base: Path) -> dict:
    done = cluster_cmd(base, "status", timeout_s=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
