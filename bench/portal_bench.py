"""Benchmark the customer portal: case list and case detail for an account manager.

    .venv/bin/python bench/portal_bench.py            # seed, serve, load, report
    .venv/bin/python bench/portal_bench.py --reuse    # keep the seeded scratch database

1. Creates a scratch PostgreSQL database, migrates it and fills it with
   ``manage.py seed_bulk`` (95,000 cases spread over the seeded accounts), then adds one
   account "Bench Corp" with 5,000 cases of its own, filed by five contacts, one of
   them a portal account manager: 100,000 cases in all.
2. Counts the SQL queries of each page in process (test Client) for that manager.
3. Serves the app with gunicorn (2 sync workers) on 127.0.0.1 with ``DJANGO_DEBUG=false``,
   signs in through the portal's real sign-in form and loads each page for ``--duration``
   seconds from ``--concurrency`` threads, bounded by time and by ``--max-requests``.
   Only loopback is ever contacted. The load generator and its helpers are the desk
   benchmark's (bench/desk_bench.py), so both measure the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The shared load generator and helpers, next to this file.
from desk_bench import (
    PYTHON,
    ROOT,
    Agent,
    _check_loopback,
    _db_env,
    _manage,
    _recreate_database,
    _worker_cpu_seconds,
    percentile,
    run_phase,
    start_server,
    stop_server,
)

MANAGER_EMAIL = "bench.manager@benchcorp.localhost"
PASSWORD = "bench-pass-5678"  # noqa: S105 - a scratch login on a scratch database
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/cd_portal_bench"
ACCOUNT_CASES = 5_000


# -- in-process part ------------------------------------------------------------------------


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def internal_prepare(account_cases: int) -> dict:
    """Add Bench Corp with its manager and cases (once); hand back the case numbers."""
    _django()
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Account, Contact, User
    from cases.models import Case, CaseComment
    from cases.services import allocate_case_numbers, format_case_number

    account, _ = Account.objects.get_or_create(name="Bench Corp")
    user, _ = User.objects.get_or_create(email=MANAGER_EMAIL, defaults={"name": "Bea Bench"})
    user.is_staff = False
    user.is_active = True
    user.set_password(PASSWORD)
    user.save()
    manager, _ = Contact.objects.get_or_create(
        email=MANAGER_EMAIL,
        defaults={"account": account, "first_name": "Bea", "last_name": "Bench"},
    )
    manager.user, manager.account, manager.portal_role = user, account, "manager"
    manager.save()
    contacts = [manager] + [
        Contact.objects.get_or_create(
            email=f"colleague{i}@benchcorp.localhost",
            defaults={"account": account, "first_name": f"Colleague {i}", "last_name": "Bench"},
        )[0]
        for i in range(4)
    ]
    missing = account_cases - Case.objects.filter(account=account).count()
    if missing > 0:
        rnd = random.Random(11)
        statuses = [s for s, _ in Case.Status.choices]
        now = timezone.now()
        with transaction.atomic():
            numbers = allocate_case_numbers(missing)
            cases = []
            for n in numbers:
                created = now - timezone.timedelta(minutes=rnd.randint(0, 60 * 24 * 365))
                status = rnd.choice(statuses)
                cases.append(
                    Case(
                        number=format_case_number(n),
                        subject=f"Bench Corp issue {n}",
                        description="Filed from the portal benchmark.\n\n* one\n* two",
                        status=status,
                        origin=Case.Origin.PORTAL,
                        account=account,
                        contact=rnd.choice(contacts),
                        created_at=created,
                        updated_at=created,
                        resolved_at=created if status in ("resolved", "closed") else None,
                        closed_at=created if status == "closed" else None,
                    )
                )
            Case.objects.bulk_create(cases, batch_size=1000)
            comments = []
            for case in Case.objects.filter(account=account).only("pk", "created_at"):
                for i in range(3):
                    comments.append(
                        CaseComment(
                            case=case,
                            body=f"Reply {i} with **Markdown** and a [link](https://example.test).",
                            is_public=i != 1,  # one internal note per case, never shown
                            author_contact=contacts[0] if i == 2 else None,
                            channel="portal" if i == 2 else "desk",
                            created_at=case.created_at + timezone.timedelta(minutes=i + 1),
                        )
                    )
            CaseComment.objects.bulk_create(comments, batch_size=2000)
    from django.db import connection

    with connection.cursor() as cursor:
        # Fresh planner statistics after the bulk load, as autovacuum would soon give them.
        cursor.execute("ANALYZE")
    numbers = list(Case.objects.filter(account=account).values_list("number", flat=True))
    return {
        "numbers": random.Random(7).sample(numbers, min(len(numbers), 2000)),
        "account_cases": len(numbers),
        "cases": Case.objects.count(),
    }


def internal_count() -> dict:
    _django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from cases.models import Case

    user = User.objects.get(email=MANAGER_EMAIL)
    client = Client()
    client.force_login(user)
    case = Case.objects.filter(contact__user=user).order_by("-created_at").first()
    pages = {
        "list": "/portal/cases/?scope=account&state=all",
        "detail": f"/portal/cases/{case.number}/",
        "home": "/portal/",
    }
    result: dict = {"cases": Case.objects.count(), "pages": {}}
    for name, path in pages.items():
        for _ in range(2):  # the first request warms per-process caches; count the second
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path)
        assert response.status_code == 200, (name, response.status_code)
        # Read them now: every request starts by clearing the connection's query log.
        sql = [q["sql"] for q in ctx.captured_queries]
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
        result["pages"][name] = {
            "queries": len(sql),
            "sql": sql,
            "alone_ms": sorted(timings)[len(timings) // 2],
        }
    return result


def _internal(mode: str, url: str, *extra: str) -> dict:
    env = _db_env(url, DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1,localhost")
    out = subprocess.run(
        [PYTHON, __file__, "--internal", mode, *extra],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- load ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--internal", choices=("prepare", "count"), help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--cases", type=int, default=100_000, help="in the whole database")
    parser.add_argument("--account-cases", type=int, default=ACCOUNT_CASES)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-requests", type=int, default=50_000, help="per page")
    parser.add_argument("--reuse", action="store_true", help="skip seeding (database exists)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    args, rest = parser.parse_known_args()

    if args.internal == "prepare":
        print(json.dumps(internal_prepare(int(rest[0]) if rest else ACCOUNT_CASES)))
        return
    if args.internal == "count":
        print(json.dumps(internal_count()))
        return

    url = args.database_url
    _check_loopback(url)
    _check_loopback(args.redis_url)
    seed_seconds = None
    if not args.reuse:
        others = args.cases - args.account_cases
        print(f"Seeding {others:,} cases with seed_bulk ...", flush=True)
        _recreate_database(url)
        _manage(url, "migrate", "--noinput", "-v0")
        started = time.monotonic()
        _manage(url, "seed_bulk", "--cases", str(others), "--no-progress")
        seed_seconds = time.monotonic() - started
    print(f"Adding Bench Corp with {args.account_cases:,} cases ...", flush=True)
    ids = _internal("prepare", url, str(args.account_cases))
    counts = _internal("count", url)

    server, port = start_server(url, workers=args.workers, redis_url=args.redis_url)
    phases = []
    try:
        customer = Agent("127.0.0.1", port)
        customer.sign_in("/portal/login/", MANAGER_EMAIL, PASSWORD, landing="/portal/")
        numbers = ids["numbers"]
        pages_count = max(1, (ids["account_cases"] + 19) // 20)

        def case_list(rnd: random.Random):
            # Mostly the first pages, as people browse; now and then a deep page.
            page = 1 if rnd.random() < 0.7 else rnd.randint(1, pages_count)
            return "GET", f"/portal/cases/?scope=account&state=all&page={page}", None, 200

        def case_detail(rnd: random.Random):
            return "GET", f"/portal/cases/{rnd.choice(numbers)}/", None, 200

        for name, make in (("list", case_list), ("detail", case_detail)):
            run_phase(
                customer,
                name,
                make,
                duration=2,
                concurrency=args.concurrency,
                max_requests=4 * args.concurrency,
            )
            print(
                f"Loading {name} for {args.duration:.0f} s at concurrency {args.concurrency} ...",
                flush=True,
            )
            cpu_before = _worker_cpu_seconds(server.pid)
            phases.append(
                run_phase(
                    customer,
                    name,
                    make,
                    duration=args.duration,
                    concurrency=args.concurrency,
                    max_requests=args.max_requests,
                )
            )
            # CPU the workers spent per request: the figure that machine contention and
            # the load generator sharing the CPUs do not inflate.
            phases[-1].cpu_ms = (
                (_worker_cpu_seconds(server.pid) - cpu_before)
                * 1000
                / max(1, len(phases[-1].latencies))
            )
    finally:
        stop_server(server, redis_url=args.redis_url)

    labels = {
        "list": "GET /portal/cases/?scope=account&state=all (manager, 20 per page)",
        "detail": "GET /portal/cases/<number>/ (3 comments, 1 internal)",
    }
    lines = [
        f"Cases in the database: {counts['cases']:,}; Bench Corp: {ids['account_cases']:,}. "
        f"gunicorn {args.workers} sync workers, concurrency {args.concurrency}, "
        f"{args.duration:.0f} s per page, signed in as the account manager.",
        "",
        "| page | requests | req/s | p50 ms | p95 ms | p99 ms | errors | queries | alone ms "
        "| worker CPU ms/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in phases:
        n = len(p.latencies)
        lines.append(
            f"| {labels[p.name]} | {n:,} | {n / p.elapsed:.1f} | "
            + " | ".join(f"{percentile(p.latencies, q) * 1000:.1f}" for q in (50, 95, 99))
            + f" | {len(p.errors)} | {counts['pages'][p.name]['queries']} | "
            f"{counts['pages'][p.name]['alone_ms']:.1f} | {p.cpu_ms:.1f} |"
        )
    lines.append(
        f"\nPortal home: {counts['pages']['home']['queries']} queries, "
        f"{counts['pages']['home']['alone_ms']:.1f} ms alone."
    )
    lines.append(f"1-minute load average at the end: {os.getloadavg()[0]:.1f} (2 shared CPUs).")
    if seed_seconds is not None:
        lines.append(f"seed_bulk took {seed_seconds:.1f} s.")
    for p in phases:
        if p.errors:
            lines.append(f"First errors on {p.name}: {p.errors[:5]}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
