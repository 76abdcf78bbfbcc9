"""Delivery through a real Celery worker on Redis, and the faults the outbox must survive."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from notifications import outbox, services
from notifications.models import OutboundEmail
from notifications.outbox import enqueue_email
from tests.notifications.conftest import needs_redis, run_worker

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def enqueue_many(n, prefix="f"):
    with transaction.atomic():
        return [
            enqueue_email(
                key=f"{prefix}:{i}", to=[f"user{i}@example.test"], subject=f"Mail {i}", text="x"
            )
            for i in range(n)
        ]


def all_sent(rows):
    return lambda: (
        OutboundEmail.objects.filter(
            pk__in=[r.pk for r in rows], status=OutboundEmail.Status.SENT
        ).count()
        == len(rows)
    )


# -- without a worker: the task body and the claim -------------------------------------------


def test_claim_prevents_a_second_send(smtp_sink, eager_celery, monkeypatch):
    monkeypatch.setattr(outbox, "schedule_delivery", lambda pk: None)
    [row] = enqueue_many(1, "claim")

    results = []

    def deliver():
        try:
            results.append(services.outbound_deliver(outbound_id=row.pk).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results).count("sent") == 1
    assert len(smtp_sink.wait_for(1)) == 1
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 1


def test_permanent_failure_is_marked_failed_with_the_reason(smtp_server, eager_celery):
    smtp_server.sink.reply_code = "550 5.1.1 No such user here"
    [row] = enqueue_many(1, "perm")

    row.refresh_from_db()
    assert row.status == OutboundEmail.Status.FAILED
    assert "No such user" in row.last_error


def test_transient_failure_stays_queued_with_a_backoff(smtp_server, eager_celery):
    smtp_server.sink.reply_code = "451 4.3.0 Try again later"
    [row] = enqueue_many(1, "temp")

    row.refresh_from_db()
    assert row.status == OutboundEmail.Status.QUEUED
    assert row.next_attempt_at > timezone.now()
    assert "Try again later" in row.last_error


def test_transient_failure_past_the_retry_window_gives_up(smtp_server, eager_celery, monkeypatch):
    smtp_server.sink.reply_code = "451 4.3.0 Try again later"
    monkeypatch.setattr(outbox, "schedule_delivery", lambda pk: None)
    [row] = enqueue_many(1, "window")
    OutboundEmail.objects.filter(pk=row.pk).update(retry_until=timezone.now() - timedelta(1))

    result = services.outbound_deliver(outbound_id=row.pk)

    row.refresh_from_db()
    assert result.outcome == "failed"
    assert row.status == OutboundEmail.Status.FAILED
    assert row.last_error.startswith("Gave up after 1 attempts")


def test_admin_retry_sends_a_failed_row(smtp_server, eager_celery):
    smtp_server.sink.reply_code = "550 5.7.1 Refused"
    [row] = enqueue_many(1, "retry")
    row.refresh_from_db()
    assert row.status == OutboundEmail.Status.FAILED
    smtp_server.sink.reply_code = None

    assert services.outbound_retry(outbound=row)

    row.refresh_from_db()
    assert row.status == OutboundEmail.Status.SENT
    assert len(smtp_server.sink.messages) == 1


# -- a real worker on Redis -------------------------------------------------------------------


@needs_redis
def test_worker_delivers_over_smtp(smtp_sink, celery_worker):
    rows = enqueue_many(5, "w")

    assert wait_until(all_sent(rows))
    assert len(smtp_sink.messages) == 5


@needs_redis
def test_rollback_sends_nothing_through_the_worker(smtp_sink, celery_worker):
    def change():
        with transaction.atomic():
            enqueue_many(3, "rb")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        change()
    enqueue_many(1, "after")

    assert wait_until(lambda: len(smtp_sink.messages) == 1)
    time.sleep(0.5)
    assert len(smtp_sink.messages) == 1
    assert not OutboundEmail.objects.filter(key__startswith="rb:").exists()


@needs_redis
def test_smtp_down_then_back_every_email_delivered_once(smtp_server, celery_worker, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0.2
    smtp_server.stop()
    rows = enqueue_many(6, "down")
    assert wait_until(
        lambda: OutboundEmail.objects.filter(key__startswith="down:", attempts__gte=1).count() == 6
    )
    assert (
        OutboundEmail.objects.filter(
            key__startswith="down:", status=OutboundEmail.Status.SENT
        ).count()
        == 0
    )

    smtp_server.start()

    assert wait_until(all_sent(rows), timeout=60)
    ids = ["".join(m["Message-ID"].split()) for m in smtp_server.sink.parsed()]
    assert len(ids) == 6
    assert sorted(ids) == sorted(r.message_id for r in rows)


@needs_redis
def test_enqueue_lost_after_commit_the_sweep_delivers(
    smtp_sink, celery_worker, settings, monkeypatch
):
    settings.OUTBOX_STUCK_AFTER_SECONDS = 0
    monkeypatch.setattr(outbox, "schedule_delivery", lambda pk: None)  # the lost enqueue
    rows = enqueue_many(3, "lost")
    time.sleep(0.3)
    assert smtp_sink.messages == []

    swept = services.outbox_sweep()

    assert sorted(swept) == sorted(r.pk for r in rows)
    assert wait_until(all_sent(rows))
    assert len(smtp_sink.messages) == 3


@needs_redis
def test_worker_killed_mid_send_loses_nothing(smtp_server, settings):
    """A separate worker process claims the row and is SIGKILLed while talking SMTP."""
    settings.OUTBOX_STUCK_AFTER_SECONDS = 0
    release = threading.Event()
    sink = smtp_server.sink
    original = sink.handle_DATA

    async def stall(server, session, envelope):
        # The first delivery hangs in DATA until the worker holding it is dead.
        while not release.is_set():
            import asyncio

            await asyncio.sleep(0.05)
        return "451 4.4.2 Connection dropped"

    sink.handle_DATA = stall
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    env = {
        **os.environ,
        "DATABASE_URL": _db_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "CASEDESK_OUTBOX_SMTP_TIMEOUT": "30",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-n",
            "doomed@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
    )
    try:
        [row] = enqueue_many(1, "killed")
        assert wait_until(
            lambda: OutboundEmail.objects.filter(
                pk=row.pk, status=OutboundEmail.Status.SENDING
            ).exists(),
            timeout=60,
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    release.set()
    sink.handle_DATA = original
    # A fresh worker, and the periodic sweep finds the row the dead worker held.
    with run_worker(purge=False):
        services.outbox_sweep()
        assert wait_until(
            lambda: OutboundEmail.objects.filter(
                pk=row.pk, status=OutboundEmail.Status.SENT
            ).exists(),
            timeout=30,
        ), OutboundEmail.objects.values("status", "attempts", "last_error").get(pk=row.pk)
    assert len(sink.messages) == 1


def _db_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("postgresql"):
        return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"
