"""A real SMTP sink (aiosmtpd) on loopback, and a real Celery worker on Redis."""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="needs a real Celery worker on Redis: set REDIS_URL (CI does)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Sink:
    """Collects what arrives; ``fail_next`` makes the server answer with an error code."""

    messages: list[bytes] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    reply_code: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        if self.reply_code:
            return self.reply_code
        with self.lock:
            self.messages.append(envelope.original_content or envelope.content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def parsed(self) -> list[email.message.EmailMessage]:
        with self.lock:
            raw = list(self.messages)
        return [email.message_from_bytes(m, policy=email.policy.default) for m in raw]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                break
            time.sleep(0.05)
        return self.parsed()


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sink = Sink()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server(settings):
    server = SmtpServer(free_port())
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.OUTBOX_SMTP_TIMEOUT = 5
    yield server
    server.stop()


@pytest.fixture
def smtp_sink(smtp_server):
    return smtp_server.sink


@pytest.fixture
def eager_celery():
    """Run tasks in process (the embedded default), whatever REDIS_URL says."""
    from config.celery import app

    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = old


@contextlib.contextmanager
def run_worker(purge: bool = True):
    """A real Celery worker (solo pool, in a thread) consuming from the Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    assert not app.conf.task_always_eager, "REDIS_URL must be set for worker tests"
    if purge:
        # Messages left by earlier tests (their rows are gone) would only be noise.
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(app.conf.task_default_queue)
    from django.db import connection

    # The worker thread's connection is closed after every task (Celery's Django fixup
    # honours CONN_MAX_AGE), so the test database can be dropped at the end of the run.
    max_age = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 0
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield app
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = max_age


@pytest.fixture
def celery_worker(settings):
    with run_worker() as app:
        yield app
