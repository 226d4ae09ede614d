"""How long the inspector's reports take on the database the app uses (the demo city with a history:
``python -m data load-demo`` then ``python -m reports demo --history-days 45``).

    .venv/bin/python benchmarks/inspection.py [--from 2026-10-28 --to 2026-11-26] [--repeat 3]

Times, for the last 30 days by default: the KPIs of every organisation (the baseline), the map image,
the whole-service PDF and one company's PDF; prints each (best of ``--repeat``), its ratio to the
KPI baseline and the share of the 30 s budget of the issue.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auth.model import Actor  # noqa: E402
from gis.db import get_engine  # noqa: E402
from ops import inspection  # noqa: E402

BUDGET_S = 30.0


def best(fn, repeat: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    today = date.today()
    ap.add_argument("--from", dest="first", default=(today - timedelta(days=30)).isoformat())
    ap.add_argument("--to", dest="last", default=(today - timedelta(days=1)).isoformat())
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    actor, eng = Actor.cli("cli:bench"), get_engine()
    base, data = best(lambda: inspection.kpis(actor, args.first, args.last, bind=eng), args.repeat)
    service = data["organisations"][0]["kpis"]["counts"]  # type: ignore[index]
    print(f"period {args.first} – {args.last}: {service['created']} reports created, {service['closed']} closed, "
          f"{service['buildings']} buildings, {len(data['organisations']) - 1} organisations")  # type: ignore[index]
    print(f"{'step':34} {'best s':>8} {'× KPIs':>8} {'of 30 s':>8}")
    print(f"{'KPIs of every organisation':34} {base:8.3f} {1:8.1f} {base / BUDGET_S:8.1%}")
    mc = next(o["id"] for o in data["organisations"] if o["kind"] == "management_company")  # type: ignore[index]
    for name, fn in (("PDF, whole service", lambda: inspection.inspection_pdf(actor, args.first, args.last, bind=eng)),
                     (f"PDF, company {mc}", lambda: inspection.inspection_pdf(actor, args.first, args.last, org_id=mc,
                                                                              bind=eng))):
        s, pdf = best(fn, args.repeat)
        print(f"{name:34} {s:8.3f} {s / base:8.1f} {s / BUDGET_S:8.1%}   ({len(pdf) / 1024:.0f} KiB)")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
