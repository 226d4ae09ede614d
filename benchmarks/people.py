"""What rights and the application layer cost: a session check on every page run, a sign-in (Argon2),
and an approved shutoff through ``ops.outages`` against the plan alone — on the demo city in a scratch
database, each beside its own baseline in the same run.

    .venv/bin/python benchmarks/people.py [--repeat 200]

Prints per-call medians and 90th percentiles in milliseconds, and the ratios:
- ``ops.users.resume`` (one session lookup, once per page run) vs ``SELECT 1`` on the same pool;
- ``ops.users.sign_in`` (Argon2id verify + throttle + session + audit) vs ``argon2`` verify alone;
- ``ops.outages.approve`` + ``cancel`` (lock, recomputed plan, conflicts, insert, incident steps,
  audit) vs ``ops.network.plan`` (the what-if the page shows before the click).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from gis.db import database_url, make_engine  # noqa: E402


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def row(name: str, stats: tuple[float, float], base: tuple[float, float] | None = None) -> None:
    ratio = f"   ×{stats[0] / base[0]:.1f} of the baseline" if base else ""
    print(f"  {name:<52} median {stats[0]:8.2f} ms   p90 {stats[1]:8.2f} ms{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    from argon2 import PasswordHasher

    from auth.model import Actor
    from data.demo import load_demo
    from ops import network as net_ops
    from ops import outages, users
    from tests.conftest import drop_database

    url = make_url(database_url()).set(database=f"zhkh_bench_people_{uuid.uuid4().hex[:6]}")
    url_s = url.render_as_string(hide_password=False)
    eng = make_engine(url_s)
    try:
        load_demo(eng, seed=42)
        admin = Actor.cli("cli:bench")
        users.add_user(admin, "bench", role="dispatcher", password="seven quiet rivers 1", bind=eng)
        _, token = users.sign_in("bench", "seven quiet rivers 1", bind=eng)
        with eng.connect() as conn:
            net = conn.execute(text("SELECT id FROM networks LIMIT 1")).scalar_one()
            pipe = conn.execute(text(
                "SELECT p.id FROM pipes p JOIN service_connections sc ON sc.pipe_id = p.id WHERE p.network_id = :n "
                "GROUP BY p.id ORDER BY count(*) DESC LIMIT 1"), {"n": net}).scalar_one()

        print(f"demo city in {url.database}; {args.repeat} calls each\n")

        def select_1() -> None:
            with eng.connect() as conn:
                conn.execute(text("SELECT 1"))

        base = timed(select_1, args.repeat)
        row("SELECT 1 through the pool (baseline)", base)
        row("ops.users.resume (a session check per page run)", timed(lambda: users.resume(token, bind=eng), args.repeat),
            base)

        ph = PasswordHasher()
        stored = ph.hash("seven quiet rivers 1")
        n = max(10, args.repeat // 10)
        base = timed(lambda: ph.verify(stored, "seven quiet rivers 1"), n)
        row("argon2 verify alone (baseline)", base)
        row("ops.users.sign_in (verify, throttle, session, audit)",
            timed(lambda: users.sign_in("bench", "seven quiet rivers 1", bind=eng), n), base)

        dispatcher = Actor(author="bench", role="dispatcher")
        net_ops.index(net, bind=eng)  # the graph is cached per revision, as in the app
        base = timed(lambda: net_ops.plan(dispatcher, net, [pipe], bind=eng), n)
        row("ops.network.plan, the what-if (baseline)", base)

        def approve_and_cancel() -> None:
            o = outages.approve(dispatcher, network_id=net, break_pipe_ids=[pipe], bind=eng)
            outages.cancel(dispatcher, o.id, reason="bench", bind=eng)

        row("ops.outages.approve + cancel (two transactions)", timed(approve_and_cancel, n), base)
    finally:
        eng.dispose()
        drop_database(url_s)


if __name__ == "__main__":
    main()
