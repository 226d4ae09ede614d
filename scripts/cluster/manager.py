"""Start, stop and describe the one-machine cluster (``make cluster``, ``make cluster-down``, ``make cluster-status``).

    python -m scripts.cluster up     [--base DIR] [--port-offset N] [--services app,tiles,...] [--replicas N] [--no-demo]
    python -m scripts.cluster down   [--base DIR] [--wipe]
    python -m scripts.cluster status [--base DIR]

Every part is an existing engine: etcd (the one store Patroni trusts), Patroni (leader election,
synchronous replication, pg_rewind), PostgreSQL + PostGIS, HAProxy (the only load balancer and the
only way to the leader), and the project's own ``python -m X serve`` commands, twice each. This module
writes their configuration under ``var/cluster/``, starts them as daemons (their logs in
``var/cluster/logs/``), waits until each answers its own health check and records their process ids in
``var/cluster/state.json``; it never decides who leads or where a request goes.

Ports are fixed (docs/scaling.md lists them); ``--port-offset`` moves every one of them (the failover
test runs its own cluster beside an operator's). Everything listens on 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BASE = ROOT / "var" / "cluster"
HOST = "127.0.0.1"
SCOPE = "zhkh"
DB_NAME = "zhkh"

# the fixed ports of the issue (front doors) and of the engines behind them
ETCD_CLIENT, ETCD_PEER = 2379, 2380
WRITE_PORT, READ_PORT, STATS_PORT = 9432, 9433, 9404
SMTP_PORT = 9025  # the mail sink the notice workers send to when ZHKH_SMTP_HOST is not configured
PG_NODES = (("pg1", 5441, 8008), ("pg2", 5442, 8009))  # name, PostgreSQL port, Patroni REST port
FRONT_DOORS = {"app": 9501, "tiles": 9512, "resident": 9520, "open311": 9311,  # replica i listens on door + i
               "field": 9530}
WORKERS = ("meters", "notify", "webhooks")
ALL_SERVICES = (*FRONT_DOORS, *WORKERS)
MQTT_SHARE_GROUP = "zhkh"

# the demo city is central Helsinki (as make demo: the Makefile's DEMO_ENV)
DEMO_ENV = {"ZHKH_SLA_RULES_FILE": str(ROOT / "incidents/rules/helsinki.yaml"),
            "ZHKH_BILLING_RULES_FILE": str(ROOT / "billing/rules/helsinki.yaml")}
# everything `make load-demo` loads, in its order (each step is a no-op when its part is there)
LOAD_DEMO = (("data", "load-demo", "--if-missing"), ("billing", "demo", "--if-missing"),
             ("reports", "demo", "--if-missing", "--history-days", "45"),
             ("auth", "demo-users"),   # after the organisations: the demo's org_dispatcher and crew work for one
             ("billing", "demo-month", "--if-missing"),
             ("dma", "demo", "--if-missing"), ("forecast", "demo", "--if-missing"))

START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 40.0


class ClusterError(Exception):
    """A part did not start, a port is taken, a tool is missing: one line for the operator."""


# ---- where things are --------------------------------------------------------------------------------------------

@dataclass
class Layout:
    """The cluster's directory and ports (``offset`` moves every port)."""

    base: Path = DEFAULT_BASE
    offset: int = 0
    services: tuple[str, ...] = ALL_SERVICES
    replicas: int = 2

    def p(self, port: int) -> int:
        return port + self.offset

    @property
    def logs(self) -> Path:
        return self.base / "logs"

    @property
    def state_file(self) -> Path:
        return self.base / "state.json"

    def nodes(self) -> list[tuple[str, int, int]]:
        return [(n, self.p(pg), self.p(rest)) for n, pg, rest in PG_NODES]

    def replica_ports(self, service: str) -> list[int]:
        return [self.p(FRONT_DOORS[service]) + 1 + i for i in range(self.replicas)]

    def write_url(self, driver: str = "postgresql") -> str:
        return f"{driver}://postgres@{HOST}:{self.p(WRITE_PORT)}/{DB_NAME}"

    def read_url(self, driver: str = "postgresql") -> str:
        return f"{driver}://postgres@{HOST}:{self.p(READ_PORT)}/{DB_NAME}"

    def to_json(self) -> dict[str, Any]:
        return {"base": str(self.base), "offset": self.offset, "services": list(self.services),
                "replicas": self.replicas}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Layout:
        return cls(Path(d["base"]), int(d["offset"]), tuple(d["services"]), int(d["replicas"]))


@dataclass
class State:
    """The processes this module started: name -> {pid, start time, role data}."""

    layout: Layout
    procs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def save(self) -> None:
        self.layout.base.mkdir(parents=True, exist_ok=True)
        tmp = self.layout.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"layout": self.layout.to_json(), "procs": self.procs}, indent=1))
        tmp.replace(self.layout.state_file)

    @classmethod
    def load(cls, base: Path) -> State | None:
        try:
            d = json.loads((base / "state.json").read_text())
        except (OSError, ValueError):
            return None
        return cls(Layout.from_json(d["layout"]), d.get("procs", {}))


# ---- processes ---------------------------------------------------------------------------------------------------

def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against a recycled pid), None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def alive(rec: dict[str, Any] | None) -> bool:
    return bool(rec) and _start_time(int(rec["pid"])) == rec.get("started")


def port_open(port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def child_env(layout: Layout, **extra: str) -> dict[str, str]:
    """A defined environment for the daemons (not the caller's): the cluster's database and the demo's rules;
    the checkout's ``.env`` still applies (settings reads it)."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8", "HOME": str(Path.home()), "PYTHONUNBUFFERED": "1",
           "DATABASE_URL": layout.write_url(), **DEMO_ENV}
    env.update(extra)
    return env


def spawn(state: State, name: str, argv: list[str], env: dict[str, str], *, as_postgres: bool = False) -> int:
    """Start ``argv`` as a daemon of its own session (it outlives ``make``), output to ``logs/<name>.log``."""
    state.layout.logs.mkdir(parents=True, exist_ok=True)
    log = open(state.layout.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
    kwargs: dict[str, Any] = {}
    if as_postgres and os.geteuid() == 0:  # PostgreSQL refuses to run as root
        kwargs = {"user": "postgres", "group": "postgres", "extra_groups": []}
        env = {**env, "HOME": pwd.getpwnam("postgres").pw_dir}
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=ROOT, start_new_session=True, **kwargs)
    finally:
        log.close()
    state.procs[name] = {"pid": proc.pid, "started": _start_time(proc.pid), "argv": argv}
    state.save()
    return proc.pid


def wait_for(what: str, ok: Callable[[], bool], timeout_s: float = START_TIMEOUT_S,
             watch: tuple[State, str] | None = None) -> None:
    """Poll ``ok`` until it holds; a watched process that dies, or the time running out, is an error."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            if ok():
                return
        except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
            pass
        if watch and not alive(watch[0].procs.get(watch[1])):
            log = watch[0].layout.logs / f"{watch[1]}.log"
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            raise ClusterError(f"{watch[1]} stopped while starting ({what}); {log}: {' | '.join(tail)}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{what}: not ready after {timeout_s:g} s (logs in {watch[0].layout.logs if watch else '-'})")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def http_status(url: str, timeout_s: float = 2.0, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:  # noqa: S310 - loopback URLs we build
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def http_json(url: str, timeout_s: float = 2.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:  # noqa: S310
            return json.loads(r.read())
    except urllib.error.HTTPError as e:  # Patroni answers 503 with the same JSON body
        return json.loads(e.read())


def stop_pid(rec: dict[str, Any], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, wait, then SIGKILL (the process group: a server's own children go with it)."""
    if not alive(rec):
        return
    pid = int(rec["pid"])
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(rec):
                return
            time.sleep(0.1)


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise ClusterError("no PostgreSQL server binaries under /usr/lib/postgresql: run make cluster (installs them)")
    return Path(found[-1]).parent


def need_tools() -> None:
    missing = [t for t in ("etcd", "patroni", "haproxy") if not shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin")]
    if missing:
        raise ClusterError(f"missing {', '.join(missing)}: run `make cluster` (scripts/cluster/setup.sh installs "
                           "patroni etcd-server haproxy)")


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


# ---- configuration files -----------------------------------------------------------------------------------------

def patroni_config(layout: Layout, name: str, pg_port: int, rest_port: int) -> str:
    node_dir = layout.base / name
    conf = {
        "scope": SCOPE, "namespace": "/zhkh/", "name": name,
        "log": {"level": "INFO"},
        "restapi": {"listen": f"{HOST}:{rest_port}", "connect_address": f"{HOST}:{rest_port}"},
        "etcd3": {"hosts": [f"{HOST}:{layout.p(ETCD_CLIENT)}"]},
        "bootstrap": {
            "dcs": {
                # a crashed leader's lock is given up at once (primary_start_timeout 0): the synchronous
                # standby has every acknowledged commit, so failing over loses nothing; loop_wait bounds
                # how soon Patroni notices (docs/scaling.md: failover time)
                "ttl": 20, "loop_wait": 1, "retry_timeout": 5, "primary_start_timeout": 0,
                "maximum_lag_on_failover": 1048576, "synchronous_mode": True,
                "postgresql": {
                    "use_pg_rewind": True, "use_slots": True,
                    "parameters": {"wal_level": "replica", "hot_standby": "on", "max_wal_senders": 10,
                                   "max_replication_slots": 10, "wal_log_hints": "on", "max_connections": 300,
                                   "wal_keep_size": "256MB"},
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, {"auth": "trust"}],
            "pg_hba": ["local all all trust", f"host all all {HOST}/32 trust",
                       f"host replication all {HOST}/32 trust"],
        },
        "postgresql": {
            "listen": f"{HOST}:{pg_port}", "connect_address": f"{HOST}:{pg_port}",
            "data_dir": str(node_dir / "data"), "bin_dir": str(pg_bin()), "pgpass": str(node_dir / "pgpass"),
            "authentication": {"superuser": {"username": "postgres", "password": "postgres"},
                               "replication": {"username": "replicator", "password": "replicator"},
                               "rewind": {"username": "postgres", "password": "postgres"}},
            "parameters": {"unix_socket_directories": str(node_dir), "logging_collector": "off",
                           "shared_buffers": "128MB"},
            "pg_hba": ["local all all trust", f"host all all {HOST}/32 trust",
                       f"host replication all {HOST}/32 trust"],
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }
    return json.dumps(conf, indent=1)  # JSON is YAML


def haproxy_config(layout: Layout) -> str:
    p = layout.p
    lines = [
        "# written by scripts/cluster/manager.py (python -m scripts.cluster up); do not edit, it is rewritten",
        "global",
        "    maxconn 4096",
        f"    stats socket {layout.base / 'haproxy.sock'} mode 600 level admin",
        "defaults",
        "    mode tcp",
        "    timeout connect 3s",
        "    timeout client 1h",
        "    timeout server 1h",
        "    timeout check 2s",
        "    timeout tunnel 1h",
        "    timeout http-request 10s",
        "",
        "listen stats",
        "    mode http",
        f"    bind {HOST}:{p(STATS_PORT)}",
        "    stats enable",
        "    stats uri /",
        "    stats refresh 2s",
        "",
    ]
    # PostgreSQL: Patroni's REST answers 200 on /primary only on the leader, on /replica only on a running
    # standby; a node marked down has its sessions cut so clients reconnect to the new leader at once.
    # The read port is the standby while one runs, else the leader (read-only look-ups must survive the
    # standby's loss too): HAProxy's own choice between two backends, by how many servers each has up. A
    # standby more than 16 MB of WAL behind (catching up after a rejoin) is left out of the read port
    def pg_servers(check: str) -> list[str]:
        return ([f"    option httpchk GET {check}", "    http-check expect status 200",
                 "    default-server inter 500ms fastinter 250ms fall 2 rise 1 on-marked-down shutdown-sessions"]
                + [f"    server {n} {HOST}:{pg} check port {rest}" for n, pg, rest in layout.nodes()] + [""])

    lines += ["listen pg_write", f"    bind {HOST}:{p(WRITE_PORT)}", *pg_servers("/primary")]
    lines += ["frontend pg_read", f"    bind {HOST}:{p(READ_PORT)}",
              "    use_backend pg_standby if { nbsrv(pg_standby) gt 0 }", "    default_backend pg_leader_read", "",
              "backend pg_standby", *pg_servers("/replica?lag=16MB"), "backend pg_leader_read", *pg_servers("/primary")]
    # the HTTP front doors: a replica is in only while its check answers (one that touches the database
    # where the server has one: a replica that cannot reach it is taken out, never silently kept)
    checks = {
        "app": ["    option httpchk GET /_stcore/health", "    http-check expect status 200"],
        "tiles": ["    option httpchk GET /tiles/pipes/14/0/0.pbf", "    http-check expect rstatus ^(200|204|304)$"],
        "resident": ["    option httpchk", "    http-check send meth GET uri /api/addresses?q=zz "
                     "hdr X-Forwarded-For 127.0.0.2", "    http-check expect status 200"],
        "open311": ["    option httpchk GET /open311/v2/requests/1.json", "    http-check expect rstatus ^(200|404)$"],
        "field": ["    option httpchk GET /health", "    http-check expect status 200"],
    }
    for service in FRONT_DOORS:
        if service not in layout.services:
            continue
        lines += [f"listen {service}", "    mode http", f"    bind {HOST}:{p(FRONT_DOORS[service])}",
                  "    balance roundrobin", "    option forwardfor", "    option redispatch", "    retries 2",
                  "    timeout client 1h", "    timeout server 60s",
                  "    default-server inter 1s fastinter 500ms fall 2 rise 1"]
        lines += checks[service]
        if service == "app":  # Streamlit keeps a session per browser tab on one replica: stickiness by cookie
            lines.append("    cookie ZHKHSRV insert indirect nocache httponly")
        for i, port in enumerate(layout.replica_ports(service), 1):
            cookie = f" cookie {service}{i}" if service == "app" else ""
            lines.append(f"    server {service}{i} {HOST}:{port} check{cookie}")
        lines.append("")
    return "\n".join(lines) + "\n"


def etcd_argv(layout: Layout) -> list[str]:
    c, peer = f"http://{HOST}:{layout.p(ETCD_CLIENT)}", f"http://{HOST}:{layout.p(ETCD_PEER)}"
    return ["etcd", "--name", "zhkh-etcd1", "--data-dir", str(layout.base / "etcd"),
            "--listen-client-urls", c, "--advertise-client-urls", c,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"zhkh-etcd1={peer}", "--initial-cluster-state", "new",
            "--initial-cluster-token", f"zhkh-{layout.offset}", "--listen-metrics-urls", "",
            "--enable-v2=false", "--logger", "zap", "--log-outputs", "stderr"]


def server_argv(service: str, port: int) -> list[str]:
    py = python()
    if service == "app":
        return [py, "-m", "streamlit", "run", "app_server.py", "--server.port", str(port),
                "--server.address", HOST, "--server.headless", "true"]
    if service == "tiles":
        return [py, "-m", "gis", "serve-tiles", "--host", HOST, "--port", str(port)]
    if service == "resident":
        return [py, "-m", "resident", "serve", "--host", HOST, "--port", str(port)]
    if service == "open311":
        return [py, "-m", "incidents", "serve", "--host", HOST, "--port", str(port)]
    if service == "field":
        return [py, "-m", "field", "serve", "--host", HOST, "--port", str(port)]
    raise ValueError(service)


def server_ready(service: str, port: int) -> bool:
    base = f"http://{HOST}:{port}"
    if service == "app":
        return http_status(base + "/_stcore/health") == 200
    if service == "open311":
        return http_status(base + "/open311/v2/requests/1.json") in (200, 404)
    return http_status(base + "/health") == 200


# ---- up ----------------------------------------------------------------------------------------------------------

def _check_free(state: State, name: str, port: int) -> None:
    if not alive(state.procs.get(name)) and port_open(port):
        raise ClusterError(f"port {port} (for {name}) is taken by another process; stop it or use --port-offset")


def patroni_role(rest_port: int) -> str | None:
    """"leader" / "replica" as Patroni's REST says, None when it does not answer."""
    try:
        d = http_json(f"http://{HOST}:{rest_port}/patroni", timeout_s=1.0)
    except (OSError, ValueError):
        return None
    if d.get("state") != "running":
        return None
    return "leader" if d.get("role") in ("master", "primary") else "replica"


def sql_one(port: int, query: str) -> Any:
    import psycopg  # from the project's venv (the manager runs there)

    with psycopg.connect(host=HOST, port=port, user="postgres", dbname="postgres", connect_timeout=2) as conn:
        return conn.execute(query).fetchone()[0]


def up(layout: Layout, *, demo: bool = True, say: Callable[[str], None] = print) -> State:
    need_tools()
    old = State.load(layout.base)
    state = State(layout, old.procs if old else {})
    layout.base.mkdir(parents=True, exist_ok=True)
    layout.logs.mkdir(parents=True, exist_ok=True)
    env = child_env(layout)

    # etcd: the one member here (three in production, docs/scaling.md)
    _check_free(state, "etcd", layout.p(ETCD_CLIENT))
    _check_free(state, "etcd", layout.p(ETCD_PEER))
    if not alive(state.procs.get("etcd")):
        spawn(state, "etcd", etcd_argv(layout), env)
    wait_for("etcd /health", lambda: http_json(f"http://{HOST}:{layout.p(ETCD_CLIENT)}/health")["health"] == "true",
             watch=(state, "etcd"))
    say(f"cluster: etcd on {HOST}:{layout.p(ETCD_CLIENT)}")

    # Patroni: the first node bootstraps (initdb) and leads, the second clones it and follows synchronously
    for name, pg_port, rest_port in layout.nodes():
        _check_free(state, name, pg_port)
        _check_free(state, name, rest_port)
        node_dir = layout.base / name
        node_dir.mkdir(parents=True, exist_ok=True)
        conf = node_dir / "patroni.yml"
        conf.write_text(patroni_config(layout, name, pg_port, rest_port))
        if os.geteuid() == 0:
            for p in (node_dir, conf):
                shutil.chown(p, "postgres", "postgres")
            reach = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(node_dir)], check=False)
            if reach.returncode != 0:
                raise ClusterError(f"PostgreSQL runs as the user postgres, which cannot reach {node_dir} (a parent "
                                   "directory is not searchable by others, e.g. /root): chmod o+x the parents or "
                                   "clone the project elsewhere")
        if not alive(state.procs.get(name)):
            spawn(state, name, ["patroni", str(conf)], env, as_postgres=True)
        wait_for(f"{name} running under Patroni", lambda r=rest_port: patroni_role(r) is not None,
                 watch=(state, name))
    rests = [r for _, _, r in layout.nodes()]
    wait_for("a leader and a streaming replica",
             lambda: sorted(filter(None, map(patroni_role, rests))) == ["leader", "replica"])
    wait_for("a synchronous standby", lambda: any(
        m.get("role") == "sync_standby" and m.get("state") in ("running", "streaming")
        for m in http_json(f"http://{HOST}:{rests[0]}/cluster")["members"]))
    say("cluster: PostgreSQL " + ", ".join(f"{n}:{pg} {patroni_role(r)}" for n, pg, r in layout.nodes()) +
        " (synchronous_mode on)")

    # HAProxy: the write port reaches the leader, the read port the standby, the front doors the replicas
    for port in (WRITE_PORT, READ_PORT, STATS_PORT, *(FRONT_DOORS[s] for s in FRONT_DOORS if s in layout.services)):
        _check_free(state, "haproxy", layout.p(port))
    cfg = layout.base / "haproxy.cfg"
    wanted = haproxy_config(layout)
    same = cfg.exists() and cfg.read_text() == wanted
    cfg.write_text(wanted)
    checked = subprocess.run(["haproxy", "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
    if checked.returncode != 0:
        raise ClusterError(f"haproxy refuses {cfg}: {' '.join(checked.stderr.split())[:300]}")
    if alive(state.procs.get("haproxy")) and not same:
        stop_pid(state.procs["haproxy"])  # the services or replicas changed: the doors close for a moment
    if not alive(state.procs.get("haproxy")):
        spawn(state, "haproxy", ["haproxy", "-db", "-f", str(cfg)], env)
    wait_for(f"the write port {layout.p(WRITE_PORT)} on the leader",
             lambda: sql_one(layout.p(WRITE_PORT), "SELECT NOT pg_is_in_recovery()") is True, watch=(state, "haproxy"))
    wait_for(f"the read port {layout.p(READ_PORT)} on the standby",
             lambda: sql_one(layout.p(READ_PORT), "SELECT pg_is_in_recovery()") is True, watch=(state, "haproxy"))
    say(f"cluster: HAProxy write {layout.p(WRITE_PORT)}, read {layout.p(READ_PORT)}, stats "
        f"http://{HOST}:{layout.p(STATS_PORT)}/")

    # the database, its PostGIS and schema (migrations), then the demo city when it is not there
    run_step(layout, [python(), "-m", "gis.local_pg"], env, "prepare")
    run_step(layout, [python(), "-c", "from gis.db import get_engine; get_engine()"], env, "migrate")
    if demo:
        say("cluster: loading the demo city when it is missing (log: logs/load-demo.log)")
        for cmd in LOAD_DEMO:
            run_step(layout, [python(), "-m", *cmd], env, "load-demo")

    # the servers, two of each, and the workers
    extra = {"ZHKH_TILES_PORT": str(layout.p(FRONT_DOORS["tiles"])),
             "ZHKH_RESIDENT_URL": f"http://{HOST}:{layout.p(FRONT_DOORS['resident'])}",
             "ZHKH_TRUSTED_PROXIES": HOST,
             # the look-ups of the tiles and the residents' page read the standby (the leader when it is alone)
             "ZHKH_READ_DATABASE_URL": layout.read_url()}
    server_env = {**env, **extra}
    for service in (s for s in FRONT_DOORS if s in layout.services):
        for i, port in enumerate(layout.replica_ports(service), 1):
            name = f"{service}{i}"
            _check_free(state, name, port)
            if not alive(state.procs.get(name)):
                spawn(state, name, server_argv(service, port), server_env)
    if "notify" in layout.services:
        start_notify(state, server_env)
    if "webhooks" in layout.services:   # each event claimed with FOR UPDATE SKIP LOCKED: never posted twice at once
        for i in range(1, layout.replicas + 1):
            if not alive(state.procs.get(f"webhooks{i}")):
                spawn(state, f"webhooks{i}", [python(), "-m", "orgs", "deliver"], server_env)
    if "meters" in layout.services:
        for i in range(1, layout.replicas + 1):
            name = f"meters{i}"
            if not alive(state.procs.get(name)):
                spawn(state, name, [python(), "-m", "meters", "listen", "--client-id", f"zhkh-meters-listener-{i}",
                                    "--share-group", MQTT_SHARE_GROUP], server_env)
    for service in (s for s in FRONT_DOORS if s in layout.services):
        for i, port in enumerate(layout.replica_ports(service), 1):
            wait_for(f"{service}{i} on {port}", lambda s=service, p=port: server_ready(s, p),
                     watch=(state, f"{service}{i}"))
        door = layout.p(FRONT_DOORS[service])
        wait_for(f"{service} through HAProxy on {door}", lambda s=service, d=door: server_ready(s, d))
        say(f"cluster: {service} on http://{HOST}:{door}/ ({layout.replicas} replicas: "
            f"{', '.join(map(str, layout.replica_ports(service)))})")
    for w in WORKERS:
        if w not in layout.services:
            continue
        for i in range(1, layout.replicas + 1):
            name = f"{w}{i}"
            if w == "meters":
                wait_for(f"{name} subscribed", lambda n=name: "subscribed to" in
                         (layout.logs / f"{n}.log").read_text(errors="replace"), watch=(state, name))
            else:
                wait_for(f"{name} running", lambda n=name: _start_time(state.procs[n]["pid"]) is not None,
                         timeout_s=5, watch=(state, name))
        say(f"cluster: {layout.replicas} {w} workers")
    state.save()
    return state


def start_notify(state: State, env: dict[str, str]) -> None:
    """Two notice workers (each claims its notice with FOR UPDATE SKIP LOCKED: never one notice twice). With
    no SMTP server configured they send to a local mail sink (aiosmtpd, log logs/smtp.log)."""
    layout = state.layout
    from settings import get_settings  # the checkout's .env may name the city's mail server

    s = get_settings()
    wenv = dict(env)
    if not s.smtp_host:
        port = layout.p(SMTP_PORT)
        _check_free(state, "smtp", port)
        if not alive(state.procs.get("smtp")):
            spawn(state, "smtp", [python(), "-m", "aiosmtpd", "-n", "-l", f"{HOST}:{port}"], env)
        wait_for("the mail sink", lambda: port_open(port), watch=(state, "smtp"))
        wenv.update({"ZHKH_SMTP_HOST": HOST, "ZHKH_SMTP_PORT": str(port)})
    for i in range(1, layout.replicas + 1):
        if not alive(state.procs.get(f"notify{i}")):
            spawn(state, f"notify{i}", [python(), "-m", "notify", "worker"], wenv)


def run_step(layout: Layout, argv: list[str], env: dict[str, str], log_name: str) -> None:
    with open(layout.logs / f"{log_name}.log", "ab") as log:
        log.write(f"$ {' '.join(argv)}\n".encode())
        log.flush()
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, check=False)
    if done.returncode != 0:
        tail = (layout.logs / f"{log_name}.log").read_text(errors="replace").strip().splitlines()[-2:]
        raise ClusterError(f"`{' '.join(argv[1:])}` failed (exit {done.returncode}): {' | '.join(tail)}")


# ---- down / status -----------------------------------------------------------------------------------------------

def down(base: Path, *, wipe: bool = False, say: Callable[[str], None] = print) -> None:
    state = State.load(base)
    if state is not None:
        order = [n for n in state.procs if n not in ("haproxy", "etcd") and not n.startswith("pg")]
        # the standby first, then the leader (no needless failover), HAProxy, and etcd last
        rest = {name: rest_port for name, _, rest_port in state.layout.nodes()}
        pgs = sorted((n for n in state.procs if n in rest), key=lambda n: patroni_role(rest[n]) == "leader")
        for name in [*order, *pgs, "haproxy", "etcd"]:
            rec = state.procs.get(name)
            if rec and alive(rec):
                stop_pid(rec)
                say(f"cluster: stopped {name}")
        for name, _, _ in state.layout.nodes():  # a postmaster whose Patroni was killed outright
            data = state.layout.base / name / "data"
            if (data / "postmaster.pid").exists():
                cmd = [str(pg_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
                if os.geteuid() == 0:
                    cmd = ["runuser", "-u", "postgres", "--", *cmd]
                subprocess.run(cmd, capture_output=True, check=False)
        state.procs = {}
        state.save()
    if wipe and base.exists():
        shutil.rmtree(base)
        say(f"cluster: removed {base}")


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if _start_time(pid) is not None else None


def status(base: Path) -> dict[str, Any]:
    state = State.load(base)
    if state is None:
        raise ClusterError(f"no cluster under {base}: start one with `make cluster`")
    layout = state.layout

    def procs(prefix: str, ports: list[int | None]) -> list[dict[str, Any]]:
        out = []
        for i, port in enumerate(ports, 1):
            rec = state.procs.get(f"{prefix}{i}")
            item: dict[str, Any] = {"port": port} if port is not None else {}
            item["pid"] = int(rec["pid"]) if alive(rec) else None
            if prefix == "meters":
                item["client_id"] = f"zhkh-meters-listener-{i}"
            out.append(item)
        return out

    out: dict[str, Any] = {"database_url": layout.write_url(), "read_url": layout.read_url(), "postgres": []}
    for name, pg_port, rest_port in layout.nodes():
        out["postgres"].append({"name": name, "role": patroni_role(rest_port), "port": pg_port,
                                "pid": postmaster_pid(layout.base / name / "data"), "patroni_port": rest_port,
                                "patroni_pid": int(state.procs[name]["pid"]) if alive(state.procs.get(name)) else None})
    for service in FRONT_DOORS:
        out[service] = procs(service, list(layout.replica_ports(service))) if service in layout.services else []
    for w in WORKERS:
        out[w] = procs(w, [None] * layout.replicas) if w in layout.services else []
    for name, port in (("etcd", layout.p(ETCD_CLIENT)), ("haproxy", layout.p(STATS_PORT))):
        rec = state.procs.get(name)
        out[name] = {"port": port, "pid": int(rec["pid"]) if alive(rec) else None}
    return out


# ---- monthly partitions (migration 0024) ------------------------------------------------------------------------

PARTITIONED = (("meter_readings", "ts", "meter_readings_retention_months"), ("audit_events", "at", "audit_retention_months"))


def partitions(database_url: str | None = None) -> dict[str, dict[str, int]]:
    """Create the months ahead (``partitions_ahead_months``) and drop those past the retention settings, in
    one transaction per table; what was made and dropped."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    from gis.db import database_url as configured_url
    from gis.db import normalize_url
    from settings import get_settings

    s = get_settings()
    engine = create_engine(normalize_url(database_url or configured_url()))
    out: dict[str, dict[str, int]] = {}
    try:
        for table, key, retention in PARTITIONED:
            months = int(getattr(s, retention))
            with engine.begin() as conn:
                made = conn.execute(text("SELECT zhkh_ensure_month_partitions(:t, :k, now(), "
                                         "now() + make_interval(months => :m + 1))"),
                                    {"t": table, "k": key, "m": s.partitions_ahead_months}).scalar_one()
                dropped = 0
                if months > 0:
                    dropped = conn.execute(text(
                        "SELECT zhkh_drop_month_partitions(:t, (date_trunc('month', now() AT TIME ZONE 'UTC') "
                        "- make_interval(months => :m)) AT TIME ZONE 'UTC')"), {"t": table, "m": months}).scalar_one()
                kept = conn.execute(text("SELECT count(*) FROM pg_inherits WHERE inhparent = CAST(:t AS regclass)"),
                                    {"t": table}).scalar_one()
            out[table] = {"created": int(made), "dropped": int(dropped), "partitions": int(kept),
                          "retention_months": months}
    except DBAPIError as exc:
        detail = " ".join(str(exc.orig).split())[:200]
        if "zhkh_ensure_month_partitions" in detail:
            detail = "the database is not migrated to revision 0024 yet (any server of the app migrates it at start)"
        raise ClusterError(f"partitions: {detail}") from None
    finally:
        engine.dispose()
    return out


# ---- the command line --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, default=DEFAULT_BASE, help="state and logs (default var/cluster)")
    sub = parser.add_subparsers(dest="command", required=True)
    u = sub.add_parser("up", help="start what is not running; return once every part answers its health check")
    u.add_argument("--port-offset", type=int, default=0)
    u.add_argument("--services", default=",".join(ALL_SERVICES),
                   help=f"comma-separated, of {','.join(ALL_SERVICES)}; empty = the database tier only")
    u.add_argument("--replicas", type=int, default=2)
    u.add_argument("--no-demo", action="store_true", help="do not load the demo city")
    d = sub.add_parser("down", help="stop every part (the data stays for the next up)")
    d.add_argument("--wipe", action="store_true", help="also remove the state directory (data and logs)")
    sub.add_parser("status", help="one JSON object: URLs, nodes and their roles, every process's port and pid")
    part = sub.add_parser("partitions", help="create monthly partitions ahead and drop those past the retention "
                                             "(ZHKH_PARTITIONS_AHEAD_MONTHS, ZHKH_METER_READINGS_RETENTION_MONTHS, "
                                             "ZHKH_AUDIT_RETENTION_MONTHS); of DATABASE_URL's database")
    part.add_argument("--database-url", default=None, help="default: DATABASE_URL (or the local database)")
    args = parser.parse_args(argv)
    base = args.base.resolve()
    try:
        if args.command == "up":
            services = tuple(s for s in args.services.split(",") if s)
            unknown = set(services) - set(ALL_SERVICES)
            if unknown or not 1 <= args.replicas <= 8:
                parser.error(f"unknown services {sorted(unknown)}" if unknown else "--replicas must be 1..8")
            old = State.load(base)
            if old and any(alive(r) for r in old.procs.values()) and old.layout.offset != args.port_offset:
                raise ClusterError(f"the cluster under {base} runs with --port-offset {old.layout.offset}")
            layout = Layout(base, args.port_offset, services, args.replicas)
            up(layout, demo=not args.no_demo)
            print(json.dumps(status(base)))
        elif args.command == "down":
            down(base, wipe=args.wipe)
        elif args.command == "partitions":
            print(json.dumps(partitions(args.database_url)))
        else:
            print(json.dumps(status(base)))
    except ClusterError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0
