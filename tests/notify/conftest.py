"""A real SMTP server (aiosmtpd) on a free port for the notices' tests, and the tiny district of the
incidents tests (tests/incidents/conftest.py) to cut off."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from tests.incidents.conftest import City, city  # noqa: F401 - the fixture, re-exported

__all__ = ["City", "Mailbox", "SmtpServer"]


class Mailbox:
    """What the SMTP server accepted: (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mails: list[tuple[list[str], Message]] = []
        #: when set, a mail's DATA waits for ``gate`` (a worker caught mid-send); ``entered`` says it arrived
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.gate is not None:
            import asyncio

            self.entered.set()
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 60)
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        with self.lock:
            self.mails.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for rcpts, m in self.mails if address in rcpts]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """A local SMTP server that can be stopped (the "server down" case) and started again on its port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.box = Mailbox()
        self.controller: Controller | None = None
        #: False: a server that does not offer SMTPUTF8 (many do not), so a non-ASCII address cannot go
        self.smtputf8 = True

    def start(self) -> None:
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port,
                                     enable_SMTPUTF8=self.smtputf8)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture()
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
