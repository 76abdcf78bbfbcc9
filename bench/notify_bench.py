"""Benchmark: outbox delivery rate with one real Celery worker, and inbound parse+apply rate.

Run on PostgreSQL and Redis (a throwaway ``test_<db>`` database is created and dropped):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cd_notify REDIS_URL=redis://127.0.0.1:6379/4 \
      .venv/bin/python bench/notify_bench.py --emails 2000 --inbound 2000

1. Outbox: ``--emails`` rows are committed with ``enqueue_email`` (one transaction), then one
   real worker process (``celery worker --pool=solo``, or ``--pool threads --concurrency N``)
   delivers them over SMTP to an aiosmtpd sink on 127.0.0.1.
   Rate = emails / (commit -> last row marked sent).
2. Inbound: ``--inbound`` distinct messages (half new cases, half replies threaded by the
   signed reply address) go through ``inbound_receive`` in this process, which parses,
   threads, creates the case or comment, and runs the default flows (outbox rows).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def bench_outbox(n: int, db_name: str, pool: str, concurrency: int) -> dict:
    from aiosmtpd.controller import Controller
    from django.db import connection, transaction

    from config.celery import app
    from notifications.models import OutboundEmail
    from notifications.outbox import enqueue_email

    port = free_port()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db_name}",
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        # As in production: with DEBUG on, Django keeps every query in memory.
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "-n",
            "bench@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the worker did not start")
        start = time.monotonic()
        with transaction.atomic():
            for i in range(n):
                enqueue_email(
                    key=f"bench:{start}:{i}",
                    to=[f"user{i}@example.test"],
                    subject=f"Benchmark {i}",
                    text="Hello from the benchmark.\n" * 5,
                )
        committed = time.monotonic()
        deadline = time.monotonic() + max(120, n / 5)
        sent = 0
        while time.monotonic() < deadline:
            sent = OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT).count()
            if sent >= n:
                break
            time.sleep(0.1)
        end = time.monotonic()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        controller.stop()
    return {
        "emails": n,
        "sent": sent,
        "received_by_sink": sink.count,
        "enqueue_s": committed - start,
        "deliver_s": end - committed,
        "rate": sent / (end - committed),
    }


def _message(i: int, *, to: str, sender: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {i} <{sender}>"
    msg["To"] = to
    msg["Subject"] = f"Problem {i}: the printer says PC LOAD LETTER"
    msg["Message-ID"] = f"<bench-{i}-{time.time_ns()}@customer.test>"
    msg.set_content(f"Hello,\n\nmessage {i}.\n\nOn Monday someone wrote:\n> quoted\n> history\n")
    msg.add_alternative(f"<p>Hello,</p><p>message {i}.</p>", subtype="html")
    return msg.as_bytes()


def _receive_all(raws: list[bytes], batch: int) -> int:
    """Take ``raws`` as the IMAP poller takes a mailbox, ``batch`` per call; count applied."""
    from cases.intake.models import InboundEmail
    from cases.intake.services import inbound_receive_many

    applied = 0
    for i in range(0, len(raws), batch):
        rows = inbound_receive_many(raws[i : i + batch], source=InboundEmail.Source.IMAP)
        applied += sum(r.status == InboundEmail.Status.APPLIED for r in rows)
    return applied


def _receive_in_parallel(raws: list[bytes], batch: int, appliers: int) -> tuple[int, float]:
    """Split ``raws`` over ``appliers`` processes (as several pollers or workers would run);
    the seconds run from a common start to the last one done.

    Each applier is a fresh interpreter (``--apply-slice``), not a fork: a forked child
    would inherit this process's database and broker sockets."""
    import pickle
    import tempfile

    from django.db import connection

    if appliers == 1:
        t0 = time.monotonic()
        applied = _receive_all(raws, batch)
        return applied, time.monotonic() - t0
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    children = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(appliers):
            part = Path(tmp) / f"slice{k}.pickle"
            part.write_bytes(pickle.dumps(raws[k::appliers]))
            command = [sys.executable, __file__, "--apply-slice", str(part), "--batch", str(batch)]
            children.append(
                subprocess.Popen(
                    command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
            )
        for child in children:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("an applier did not start")
        t0 = time.monotonic()
        for child in children:  # the start gun
            child.stdin.write("go\n")
            child.stdin.flush()
        applied = sum(int(child.stdout.readline()) for child in children)
        elapsed = time.monotonic() - t0
        for child in children:
            child.wait(timeout=60)
    return applied, elapsed


def apply_slice(path: str, batch: int) -> None:
    """The applier process: load its messages, say ready, wait for the gun, apply."""
    import pickle

    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # as in production
    settings.INBOUND_SENDER_LIMIT_PER_HOUR = 10**9
    raws = pickle.loads(Path(path).read_bytes())  # noqa: S301 - our own temporary file
    print("ready", flush=True)
    sys.stdin.readline()
    print(_receive_all(raws, batch), flush=True)


def bench_inbound(n: int, batch: int, appliers: int) -> dict:
    from django.conf import settings

    from cases.intake import parsing
    from cases.models import Case, Queue
    from lib import reply_address

    settings.INBOUND_SENDER_LIMIT_PER_HOUR = 10**9
    Queue.objects.get_or_create(
        name="Bench", slug="bench", defaults={"inbound_address": "bench@casedesk.test"}
    )
    new_cases = n // 2
    raws = [
        _message(i, to="bench@casedesk.test", sender=f"c{i}@customer.test")
        for i in range(new_cases)
    ]
    # Parsing alone (MIME, charsets, quote trimming), without the database.
    t0 = time.monotonic()
    for raw in raws:
        parsing.parse(raw)
    parse_rate = len(raws) / (time.monotonic() - t0)
    applied, new_case_s = _receive_in_parallel(raws, batch, appliers)
    contacts = dict(
        Case.objects.filter(origin=Case.Origin.EMAIL).values_list("contact__email", "number")
    )
    replies = [
        _message(
            new_cases + i,
            to=reply_address.make(contacts[f"c{i % new_cases}@customer.test"]),
            sender=f"c{i % new_cases}@customer.test",
        )
        for i in range(n - new_cases)
    ]
    applied_replies, reply_s = _receive_in_parallel(replies, batch, appliers)
    elapsed = new_case_s + reply_s
    return {
        "messages": n,
        "applied": applied + applied_replies,
        "total_s": elapsed,
        "rate": n / elapsed,
        "new_case_rate": new_cases / new_case_s,
        "reply_rate": (n - new_cases) / reply_s,
        "parse_rate": parse_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--inbound", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100, help="inbound messages per poll")
    parser.add_argument(
        "--appliers", type=int, default=1, help="inbound processes side by side (pollers)"
    )
    parser.add_argument("--pool", default="solo", help="the worker's pool: solo or threads")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--apply-slice", help=argparse.SUPPRESS)  # an applier process
    args = parser.parse_args()
    if args.apply_slice:
        apply_slice(args.apply_slice, args.batch)
        return

    import logging

    import django

    django.setup()
    # aiosmtpd logs every SMTP command at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise SystemExit("Run it on PostgreSQL: set DATABASE_URL (and REDIS_URL).")
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("Set REDIS_URL: the outbox benchmark needs a real worker.")
    # As in production: DEBUG off (with it on, Django keeps every query in memory).
    setup_test_environment(debug=False)
    old_name = connection.settings_dict["NAME"]
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        load = os.getloadavg()[0]
        if args.emails:
            out = bench_outbox(args.emails, db_name, args.pool, args.concurrency)
            print(
                f"outbox: {out['sent']}/{out['emails']} sent, sink got {out['received_by_sink']}, "
                f"enqueue+commit {out['enqueue_s']:.2f}s, delivery {out['deliver_s']:.2f}s -> "
                f"{out['rate']:.0f} emails/s (one worker, pool {args.pool} x{args.concurrency})"
            )
        if args.inbound:
            inb = bench_inbound(args.inbound, args.batch, args.appliers)
            print(
                f"inbound: {inb['applied']}/{inb['messages']} applied in {inb['total_s']:.2f}s -> "
                f"{inb['rate']:.0f} messages/s (new cases {inb['new_case_rate']:.0f}/s, "
                f"replies {inb['reply_rate']:.0f}/s; {args.appliers} process(es), "
                f"{args.batch} per poll); parsing alone {inb['parse_rate']:.0f}/s"
            )
        print(f"load average: {load:.1f} -> {os.getloadavg()[0]:.1f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
