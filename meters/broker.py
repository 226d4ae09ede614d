"""A private Mosquitto for tests and benchmarks: its own port, config and persistence file, so that it can
be stopped and restarted without touching the system broker (``ZHKH_MQTT_URL``) others use."""
from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["Mosquitto", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


AUTOSAVE_INTERVAL_S = 1  # as scripts/mosquitto.conf: the broker's state on disk is at most ~2 s old


class Mosquitto:
    """``mosquitto -c <tmp>/mosquitto.conf`` on a free port; persistence on (sessions and queued QoS 1
    messages survive :meth:`restart`, and a crash (:meth:`kill`) loses at most the last autosave interval,
    which the publishers resend: docs/meters.md), no limit on queued messages."""

    def __init__(self, port: int | None = None, workdir: Path | None = None,
                 autosave_interval_s: int = AUTOSAVE_INTERVAL_S) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise RuntimeError("mosquitto is not installed: run scripts/setup_system.sh")
        self.exe = exe
        self.port = port or free_port()
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="zhkh-mosquitto-"))
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"user {getpass.getuser()}\n"  # run as root, mosquitto would drop to 'mosquitto' and not write here
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "persistence_file mosquitto.db\n"
            # written every autosave_interval seconds, not only at a clean exit: a crash (kill -9, OOM) used
            # to lose every session and queued message since the broker started
            f"autosave_interval {int(autosave_interval_s)}\n"
            "autosave_on_changes false\n"  # seconds, not changes: a dump per change is O(queue) each time
            "max_queued_messages 0\n"  # 0 = no limit: a slow or absent listener loses nothing
            "max_inflight_messages 0\n"
            f"log_dest file {self.dir}/mosquitto.log\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> Mosquitto:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}; see {self.dir}/mosquitto.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): the broker writes its persistence file."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """A crash (SIGKILL): nothing written on the way out; the next :meth:`start` loads the last autosave."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def restart(self) -> Mosquitto:
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
