"""Benchmark the desk under load: case list, case detail and case creation.

    .venv/bin/python bench/desk_bench.py                # seed, serve, load, report
    .venv/bin/python bench/desk_bench.py --reuse        # keep the seeded scratch databases

What it does (see bench/RESULTS.md for the figures it produced):

1. Creates two scratch PostgreSQL databases, migrates them and fills them with
   ``manage.py seed_bulk`` (100,000 cases; and 100 cases for the query-count comparison).
2. Creates a bench agent and counts the SQL queries of each page in process with
   Django's test Client and ``CaptureQueriesContext``, at 100 and at 100,000 cases;
   for the list page it also runs ``EXPLAIN ANALYZE`` on every query at 100,000 cases.
3. Serves the app with gunicorn (2 sync workers) on 127.0.0.1 with ``DJANGO_DEBUG=false``
   (whitenoise, no debug machinery), signs in through the real allauth form and loads
   each page for ``--duration`` seconds from ``--concurrency`` threads, bounded by time
   and by ``--max-requests``. Only loopback is ever contacted.
4. Prints a Markdown report (req/s, p50/p95/p99, errors, queries per page).

It uses only the standard library on the client side (http.client), so the load
generator adds no dependency.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_EMAIL = "bench.agent@casedesk.localhost"
BENCH_PASSWORD = "bench-pass-5678"  # noqa: S105 - a scratch login on a scratch database
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/cd_seed_bench"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# -- helpers -------------------------------------------------------------------------------


def _db_env(url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CASEDESK_REQUIRE_SERVICES", None)
    env.update(DATABASE_URL=url, **extra)
    return env


def _manage(url: str, *args: str, quiet: bool = False, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env or _db_env(url),
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )


def _check_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"Refusing to touch {host!r}: the bench only talks to loopback.")


def _recreate_database(url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z0-9_]+", name) or not name.startswith("cd_"):
        raise SystemExit(f"Refusing to drop {name!r}: scratch databases are named cd_*.")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _seed(url: str, cases: int) -> float:
    _recreate_database(url)
    _manage(url, "migrate", "--noinput", "-v0")
    started = time.monotonic()
    _manage(url, "seed_bulk", "--cases", str(cases), "--no-progress")
    return time.monotonic() - started


def _internal(mode: str, url: str, extra_env: dict[str, str] | None = None) -> dict:
    """Run this file's in-process Django part against ``url`` and return its JSON answer."""
    env = _db_env(url, DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1,localhost", **(extra_env or {}))
    out = subprocess.run(
        [PYTHON, __file__, "--internal", mode],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- in-process part: prepare data and count queries ------------------------------------------


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def internal_prepare() -> dict:
    """Create the bench agent; hand back ids the load generator posts and visits."""
    _django()
    from accounts.models import Contact, User
    from cases.models import Case, Queue

    user, _ = User.objects.get_or_create(
        email=BENCH_EMAIL, defaults={"name": "Bench Agent", "is_staff": True}
    )
    user.is_staff = user.is_active = True
    user.set_password(BENCH_PASSWORD)
    user.save()
    numbers = list(Case.objects.values_list("number", flat=True))
    rnd = random.Random(7)
    return {
        "numbers": rnd.sample(numbers, min(len(numbers), 5000)),
        "contacts": list(Contact.objects.order_by("pk").values_list("pk", flat=True)[:200]),
        "queues": list(Queue.objects.values_list("pk", flat=True)),
        "agents": list(User.objects.filter(is_staff=True).values_list("pk", flat=True)[:20]),
        "cases": Case.objects.count(),
    }


def internal_count() -> dict:
    """Queries per page for the bench agent, measured with the test Client."""
    _django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Contact, User
    from cases.models import Case

    user = User.objects.get(email=BENCH_EMAIL)
    client = Client()
    client.force_login(user)
    case = Case.objects.filter(comments__isnull=False).order_by("-created_at").first()
    contact = Contact.objects.order_by("pk").first()
    pages = {
        "list": ("get", "/desk/", None),
        "detail": ("get", f"/desk/cases/{case.number}/", None),
        "create": (
            "post",
            "/desk/cases/new/",
            {
                "subject": "Counting queries",
                "description": "One case created by the query counter.",
                "contact": str(contact.pk),
                "priority": "high",
                "type": "problem",
                "origin": "phone",
                "queue": "",
                "owner": "",
            },
        ),
    }
    result: dict = {"cases": Case.objects.count(), "pages": {}}
    for name, (method, path, data) in pages.items():
        # The first request warms per-process caches (content types, site); count the second.
        # No surrounding transaction: its savepoints would be counted as queries too.
        for _ in range(2):
            with CaptureQueriesContext(connection) as ctx:
                response = getattr(client, method)(path, data) if data else client.get(path)
        assert response.status_code in (200, 302), (name, response.status_code)
        queries = [{"sql": q["sql"], "ms": float(q["time"]) * 1000} for q in ctx.captured_queries]
        # Service time of one request with nobody else queueing (GETs only: POSTs create).
        timings = []
        for _ in range(20 if method == "get" else 0):
            started = time.perf_counter()
            client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
        result["pages"][name] = {
            "status": response.status_code,
            "queries": len(queries),
            "sql": queries,
            "alone_ms": sorted(timings)[len(timings) // 2] if timings else None,
        }
    if connection.vendor == "postgresql":
        # Where the list page's time goes in the database itself.
        plans = []
        with connection.cursor() as cursor:
            for q in result["pages"]["list"]["sql"]:
                if not q["sql"].lstrip().upper().startswith("SELECT"):
                    continue
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
                took = re.search(r"Execution Time: ([\d.]+) ms", plan)
                plans.append(
                    {
                        "sql": q["sql"],
                        "plan": plan,
                        "execution_ms": float(took.group(1)) if took else None,
                    }
                )
        result["list_plans"] = plans
    return result


# -- the load generator --------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0  # seconds of CPU the gunicorn workers spent during the phase
    client_cpu: float = 0.0  # seconds of CPU this load generator spent during the phase


class Agent:
    """One signed-in browser: a session cookie and a CSRF token, sent by hand.

    With DJANGO_DEBUG=false the cookies are marked Secure; over plain-HTTP loopback a
    cookie jar would refuse to send them back, so the headers are built directly.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def headers(self, **extra: str) -> dict[str, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {"Cookie": cookie, "Host": f"{self.host}:{self.port}", **extra}

    def remember(self, response: http.client.HTTPResponse) -> None:
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]

    def request(
        self, conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None
    ) -> tuple[int, bytes, http.client.HTTPResponse]:
        headers = self.headers()
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            headers["Referer"] = f"http://{self.host}:{self.port}{path}"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, payload, response

    def sign_in(
        self,
        login_path: str = "/accounts/login/",
        email: str = BENCH_EMAIL,
        password: str = BENCH_PASSWORD,
        landing: str = "/desk/",
    ) -> None:
        """Through the real sign-in form: GET it for the CSRF token, POST the credentials."""
        conn = self.connection()
        status, page, response = self.request(conn, "GET", login_path)
        assert status == 200, f"{login_path} answered {status}"
        self.remember(response)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, f"no CSRF token on {login_path}"
        conn.request(
            "POST",
            login_path,
            body=urllib.parse.urlencode(
                {
                    "csrfmiddlewaretoken": token.group(1).decode(),
                    "login": email,
                    "password": password,
                }
            ),
            headers=self.headers(
                **{
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Referer": f"http://{self.host}:{self.port}{login_path}",
                }
            ),
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 302, f"sign-in answered {response.status}"
        self.remember(response)
        assert "sessionid" in self.cookies, "no session cookie after sign-in"
        status, _, _ = self.request(conn, "GET", landing)
        assert status == 200, f"{landing} after sign-in answered {status}"
        conn.close()


def run_phase(
    agent: Agent, name: str, make_request, *, duration: float, concurrency: int, max_requests: int
) -> Phase:
    """Hit one page from ``concurrency`` threads until the time or the count runs out."""
    phase = Phase(name)
    lock = threading.Lock()
    budget = iter(range(max_requests))
    deadline = time.monotonic() + duration

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        conn = agent.connection()
        try:
            while time.monotonic() < deadline:
                with lock:
                    if next(budget, None) is None:
                        return
                method, path, body, expected = make_request(rnd)
                started = time.perf_counter()
                try:
                    status, _, _ = agent.request(conn, method, path, body)
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = agent.connection()
                    with lock:
                        phase.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                took = time.perf_counter() - started
                with lock:
                    phase.latencies.append(took)
                    phase.statuses[status] = phase.statuses.get(status, 0) + 1
                    if status != expected:
                        phase.errors.append(f"{method} {path} -> {status}")
        finally:
            conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 60)
    phase.elapsed = time.monotonic() - started
    return phase


def _worker_cpu_seconds(master_pid: int) -> float:
    """User+system CPU of gunicorn's workers (Linux /proc): immune to other load on the box."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def start_server(url: str, *, workers: int, redis_url: str) -> tuple[subprocess.Popen, int]:
    """Serve the app with gunicorn in production mode on a free loopback port."""
    port = _free_port()
    server_env = _db_env(
        url,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-secret-key-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        REDIS_URL=redis_url,
    )
    # DJANGO_DEBUG=false serves hashed static files from the manifest; build it.
    _manage(url, "collectstatic", "--noinput", "-v0", env=server_env)
    gunicorn = [
        str(Path(PYTHON).parent / "gunicorn"), "config.wsgi", "-w", str(workers),
        "-b", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    print(f"Serving with {' '.join(gunicorn[1:])} ...", flush=True)
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=server_env, start_new_session=True)
    for _ in range(300):  # up to 30 s for the workers to boot
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    stop_server(server, redis_url=redis_url)
    raise SystemExit("gunicorn did not start listening")


def stop_server(server: subprocess.Popen, *, redis_url: str) -> None:
    """Stop gunicorn and drop the tasks nobody consumed from the bench's Redis DB."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    _check_loopback(redis_url)
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# -- the whole run -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--internal", choices=("prepare", "count"), help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--small-cases", type=int, default=100)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-requests", type=int, default=50_000, help="per page")
    parser.add_argument("--reuse", action="store_true", help="skip seeding (databases exist)")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/3",
        help="broker and cache of the served app; this Redis DB is flushed afterwards",
    )
    parser.add_argument("--json-out", type=Path, help="also write the raw figures here")
    args = parser.parse_args()

    if args.internal:
        answer = internal_prepare() if args.internal == "prepare" else internal_count()
        print(json.dumps(answer))
        return

    big_url = args.database_url
    small_url = big_url.rstrip("/") + "_small"
    for url in (big_url, small_url):
        _check_loopback(url)

    seed_seconds = None
    if not args.reuse:
        print(f"Seeding {args.cases:,} cases ...", flush=True)
        seed_seconds = _seed(big_url, args.cases)
        print(f"  seeded in {seed_seconds:.1f} s; and {args.small_cases} cases ...", flush=True)
        _seed(small_url, args.small_cases)

    ids = _internal("prepare", big_url)
    _internal("prepare", small_url)
    print("Counting queries per page ...", flush=True)
    counts_small = _internal("count", small_url)
    counts_big = _internal("count", big_url)

    # Work after commit (mail, flows) goes to the broker as in production, instead of
    # running eagerly inside the request; no worker consumes it during the run.
    server, port = start_server(big_url, workers=args.workers, redis_url=args.redis_url)
    phases: list[Phase] = []
    try:
        agent = Agent("127.0.0.1", port)
        agent.sign_in()
        load_before = os.getloadavg()[0]

        numbers, contacts, queues = ids["numbers"], ids["contacts"], ids["queues"]
        agents = ids["agents"]
        counter = iter(range(10**9))

        def case_list(rnd: random.Random):
            return "GET", "/desk/", None, 200

        def case_detail(rnd: random.Random):
            return "GET", f"/desk/cases/{rnd.choice(numbers)}/", None, 200

        def case_create(rnd: random.Random):
            body = {
                "subject": f"Bench case {next(counter)}",
                "description": "Created by bench/desk_bench.py under load.",
                "contact": str(rnd.choice(contacts)),
                "priority": rnd.choice(["low", "medium", "high", "urgent"]),
                "type": rnd.choice(["question", "problem", "incident"]),
                "origin": rnd.choice(["phone", "agent"]),
                "queue": str(rnd.choice(queues)) if rnd.random() < 0.7 else "",
                "owner": str(rnd.choice(agents)) if rnd.random() < 0.5 else "",
            }
            return "POST", "/desk/cases/new/", body, 302

        for name, make in (("list", case_list), ("detail", case_detail), ("create", case_create)):
            # A few unmeasured requests first, so every worker has its connection and caches.
            run_phase(
                agent,
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
            client_before = time.process_time()
            phase = run_phase(
                agent,
                name,
                make,
                duration=args.duration,
                concurrency=args.concurrency,
                max_requests=args.max_requests,
            )
            phase.server_cpu = _worker_cpu_seconds(server.pid) - cpu_before
            phase.client_cpu = time.process_time() - client_before
            phases.append(phase)
    finally:
        stop_server(server, redis_url=args.redis_url)

    report = render_report(args, phases, counts_small, counts_big, seed_seconds)
    # The machine may be shared: say how busy it was (1-minute load average, 2 cores here).
    report += (
        f"\n\nLoad average while loading: {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after ({os.cpu_count()} CPUs)."
    )
    print(report)
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                {
                    "phases": [
                        {
                            "name": p.name,
                            "requests": len(p.latencies),
                            "elapsed": p.elapsed,
                            "statuses": p.statuses,
                            "errors": p.errors[:20],
                            "p50_ms": percentile(p.latencies, 50) * 1000,
                            "p95_ms": percentile(p.latencies, 95) * 1000,
                            "p99_ms": percentile(p.latencies, 99) * 1000,
                            "worker_cpu_ms_per_request": p.server_cpu
                            * 1000
                            / max(1, len(p.latencies)),
                        }
                        for p in phases
                    ],
                    "queries_small": {k: v["queries"] for k, v in counts_small["pages"].items()},
                    "queries_big": {k: v["queries"] for k, v in counts_big["pages"].items()},
                    "list_plans": counts_big.get("list_plans", []),
                    "list_sql_big": counts_big["pages"]["list"]["sql"],
                },
                indent=2,
            )
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_report(
    args: argparse.Namespace,
    phases: list[Phase],
    counts_small: dict,
    counts_big: dict,
    seed_seconds: float | None,
) -> str:
    lines = [
        f"Cases in the database: {counts_big['cases']:,} (query counts also at "
        f"{counts_small['cases']:,}). gunicorn {args.workers} sync workers, concurrency "
        f"{args.concurrency}, {args.duration:.0f} s per page. 'alone ms': median time of one "
        "request in process with nothing else queued (test Client, DEBUG on).",
        "",
        "| page | requests | req/s | p50 ms | p95 ms | p99 ms | errors | queries "
        f"@{counts_small['cases']:,} | queries @{counts_big['cases']:,} | alone ms | "
        "worker CPU ms/req | client CPU ms/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    labels = {
        "list": "GET /desk/ (default view)",
        "detail": "GET /desk/cases/<number>/",
        "create": "POST /desk/cases/new/",
    }
    for p in phases:
        n = len(p.latencies)
        lines.append(
            f"| {labels[p.name]} | {n:,} | {n / p.elapsed:.1f} | "
            + " | ".join(f"{percentile(p.latencies, q) * 1000:.1f}" for q in (50, 95, 99))
            + f" | {len(p.errors)} | "
            f"{counts_small['pages'][p.name]['queries']} | "
            f"{counts_big['pages'][p.name]['queries']} | "
            f"{_ms(counts_big['pages'][p.name]['alone_ms'])} | "
            f"{_ms(p.server_cpu * 1000 / n if n else None)} | "
            f"{_ms(p.client_cpu * 1000 / n if n else None)} |"
        )
    if seed_seconds is not None:
        lines += ["", f"Seeding {counts_big['cases']:,} cases took {seed_seconds:.1f} s."]
    plans = counts_big.get("list_plans") or []
    if plans:
        lines += ["", "List page queries at the large size (EXPLAIN ANALYZE execution time):", ""]
        for plan in plans:
            sql = re.sub(r"\s+", " ", plan["sql"])[:160]
            lines.append(f"- {plan['execution_ms']} ms: `{sql}`")
    for p in phases:
        if p.errors:
            lines += ["", f"First errors on {p.name}: {p.errors[:5]}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
