"""``python -m meters listen|simulate`` (contract in docs/meters.md).

    python -m meters listen [--mqtt-url URL] [--client-id ID] [--batch-size N] [--flush-ms T]
                            [--duration S] [--json]
    python -m meters simulate --rate N [--duration S] [--start ISO] [--speed X]
                              [--leak DMA_ID@ISO:LPS] [--burst DMA_ID@ISO:LPS] [--faults P] [--seed N]
                              [--client-id ID]

The broker is ``ZHKH_MQTT_URL`` (default mqtt://127.0.0.1:1883), the database ``DATABASE_URL``. Bad input
exits 2 with one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from apps.cli.common import ProgParser, fail
from gis.db import database_url, make_engine
from gis.errors import DatabaseUnavailable
from incidents.sla import load_rules
from meters import listen, simulate
from meters.errors import BadArgument, BrokerUnavailable, MetersError
from settings import get_settings

__all__ = ["main"]


def _positive(kind: type, name: str):  # noqa: ANN202
    def conv(v: str) -> float:
        try:
            x = kind(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {v!r}") from None
        if not math.isfinite(x) or x <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be > 0, got {v!r}")
        return x
    return conv


def _parser() -> argparse.ArgumentParser:
    p = ProgParser(prog="python -m meters", description="Smart-meter readings over MQTT.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ProgParser)
    common = ProgParser(add_help=False)
    common.add_argument("--mqtt-url", default=None, help="broker URL (default: ZHKH_MQTT_URL)")
    common.add_argument("--json", action="store_true", help="the final counters as JSON on stdout")
    lst = sub.add_parser("listen", parents=[common], help="store the readings published on zhkh/meters/+/reading")
    lst.add_argument("--client-id", default=None, help="MQTT client id: the broker keeps its session")
    lst.add_argument("--share-group", default=None,
                     help="share the readings with the other listeners of this group (MQTT v5 shared subscription "
                          "$share/GROUP/zhkh/meters/+/reading; each needs its own --client-id)")
    lst.add_argument("--batch-size", type=int, default=None, help="messages per transaction at most")
    lst.add_argument("--flush-ms", type=int, default=None, help="write a batch at most this long after its first message")
    lst.add_argument("--duration", type=_positive(float, "--duration"), default=None, help="stop after S seconds")
    lst.add_argument("--report-s", type=float, default=60.0, help="log the counters every S seconds (0: never)")
    sim = sub.add_parser("simulate", parents=[common], help="publish realistic readings of the demo city's meters")
    sim.add_argument("--rate", type=_positive(float, "--rate"), required=True, help="readings per second")
    sim.add_argument("--duration", type=_positive(float, "--duration"), default=60.0, help="seconds of wall time")
    sim.add_argument("--start", default=None, help="simulated start time, ISO 8601 (default: so that it ends now)")
    sim.add_argument("--speed", type=_positive(float, "--speed"), default=1.0,
                     help="simulated seconds per wall second (e.g. 3600: an hour a second)")
    sim.add_argument("--leak", action="append", default=[], metavar="DMA_ID@ISO:LPS", help="a leak from that time")
    sim.add_argument("--burst", action="append", default=[], metavar="DMA_ID@ISO:LPS", help="a burst from that time")
    sim.add_argument("--faults", type=float, default=0.001, help="probability of a meter fault per reading")
    sim.add_argument("--seed", type=int, default=None)
    sim.add_argument("--client-id", default=None,
                     help="the simulator's MQTT client id: its own persistent session (default: the setting "
                          "meters_simulator_client_id)")
    return p


def _region_tz() -> ZoneInfo:
    try:
        return ZoneInfo(load_rules(get_settings().sla_rules_file).timezone)
    except Exception:  # noqa: BLE001 - a broken rules file is reported by the app; the feed uses Moscow time
        return ZoneInfo("Europe/Moscow")


def serve_listener(config: listen.ListenerConfig, *, duration_s: float | None = None, report_s: float = 60.0,
                   log: Callable[[str], None] = listen.log_stderr) -> listen.ListenerStats:
    """The listener's main loop: listen until SIGINT/SIGTERM (or ``duration_s``), logging the counters every
    ``report_s``; the final counters."""
    make_engine(config.db_url).dispose()  # the database exists and is migrated (DatabaseUnavailable if not)
    listener = listen.Listener(config, log=log)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    listener.start()
    started = time.monotonic()
    next_report = started + report_s
    while not done.wait(0.2):
        now = time.monotonic()
        if duration_s is not None and now - started >= duration_s:
            break
        if report_s > 0 and now >= next_report:
            s = listener.stats
            log(f"received {s.received}, stored {s.stored}, duplicates {s.duplicates}, rejected {s.rejected}, "
                f"acked {s.acked}")
            next_report = now + report_s
    return listener.stop()


def _run(args: argparse.Namespace) -> dict:
    s = get_settings()
    mqtt_url = args.mqtt_url or s.mqtt_url
    listen.parse_mqtt_url(mqtt_url)
    if args.command == "listen":
        cfg = listen.ListenerConfig(db_url=database_url(), mqtt_url=mqtt_url, client_id=args.client_id or s.meters_client_id,
                             batch_size=args.batch_size or s.meters_batch_size,
                             flush_ms=args.flush_ms or s.meters_flush_ms,
                             share_group=args.share_group if args.share_group is not None else s.meters_share_group)
        listen.Listener(cfg, log=lambda _line: None)  # the settings are checked before anything starts
        return serve_listener(cfg, duration_s=args.duration, report_s=args.report_s).as_dict()
    if not 0 <= args.faults <= 1:
        raise BadArgument(f"--faults must be a probability in [0, 1], got {args.faults}")
    if args.speed > 1_000_000:
        raise BadArgument("--speed must be at most 1000000")
    tz = _region_tz()
    start = None
    if args.start is not None:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            raise BadArgument(f"--start {args.start!r} is not an ISO 8601 time") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=tz)
    injections = [simulate.parse_injection("leak", v, tz) for v in args.leak] + \
                 [simulate.parse_injection("burst", v, tz) for v in args.burst]
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    stats = simulate.run(db_url=database_url(), mqtt_url=mqtt_url, rate=args.rate, duration_s=args.duration,
                     start=start, speed=args.speed, injections=injections, faults=args.faults, seed=seed, tz=tz,
                     client_id=args.client_id or s.meters_simulator_client_id)
    print(stats, file=sys.stderr)
    if stats.unacknowledged:
        raise BrokerUnavailable(f"{stats.unacknowledged} of {stats.published} readings were not acknowledged by "
                                "the broker when the run ended (is it down?)")
    return {"published": stats.published, "meters": stats.meters, "faults": stats.faults,
            "resent": stats.resent,
            "sim_from": stats.sim_from, "sim_to": stats.sim_to, "elapsed_s": round(stats.elapsed_s, 3), "seed": seed}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input or an unreachable service)."""
    args = _parser().parse_args(argv)
    try:
        out = _run(args)
    except (MetersError, DatabaseUnavailable) as exc:
        return fail(exc)
    except Exception as exc:  # noqa: BLE001 - the contract is: one line, never a traceback
        return fail(f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    if args.json:
        json.dump(out, sys.stdout, default=str)
        sys.stdout.write("\n")
    elif args.command == "listen":
        print(f"received {out['received']}, stored {out['stored']}, duplicates {out['duplicates']}, "
              f"rejected {out['rejected']}")
    return 0
