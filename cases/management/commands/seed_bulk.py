"""Add many cases fast, for benchmarks and for trying the desk at scale.

    manage.py seed_bulk --cases 1000000 --comments-per-case 2

Cases are spread over a fixed cast of accounts, contacts, agents and queues that the
command creates on its first run and reuses afterwards, and over every status, priority,
origin and type, so the desk's filters see realistic selectivity. Each case gets its
"created" history row and ``--comments-per-case`` comments (alternating customer message
and agent reply; the first agent reply sets ``first_response_at``).

On PostgreSQL rows go in with COPY (psycopg's ``cursor.copy``), the fastest path the
database offers; case ids are reserved from the table's sequence first so that comments
and history can point at them without reading anything back. Elsewhere (SQLite, the
embedded default) ``bulk_create`` does the same job. Every batch is its own transaction
with its own block of case numbers, so an interrupted run keeps what it wrote.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from accounts.models import Account, AccountDomain, Contact, User
from cases.models import Case, CaseComment, CaseEvent, Queue
from cases.services import allocate_case_numbers, format_case_number

BULK_DOMAIN = "bulk.example"
AGENT_COUNT = 20
ACCOUNT_COUNT = 200
CONTACTS_PER_ACCOUNT = 10
QUEUE_NAMES = ("Bulk Support", "Bulk Billing", "Bulk Technical", "Bulk Onboarding", "Bulk VIP")
# How far back the cases reach; new ones are still "open" more often (see _status).
SPAN_DAYS = 730

SUBJECTS = (
    "Cannot sign in after password reset",
    "Invoice shows the wrong VAT number",
    "API returns 502 errors",
    "Export to CSV is empty",
    "Charged twice this month",
    "Webhook signatures do not verify",
    "Notifications stopped arriving",
    "How do I add a colleague?",
    "SSO login loops back to sign-in",
    "Data sync stuck",
    "Switch to annual billing",
    "Dark mode for the dashboard",
    "Rate limits for reporting",
    "Payment link expired",
    "Change the email address on our account",
)
BODIES = (
    "Since this morning the page shows an error when we try again. Could you have a look?",
    "We noticed this after the last update. Several colleagues are affected.",
    "This blocks our month-end close; please treat it as urgent.",
    "Not urgent, but we would like to understand what is going on.",
    "Attached is what we see; the problem started around 09:00 UTC.",
)
REPLIES = (
    "Thanks for reaching out. I am looking into this now.",
    "Could you send us a screenshot and the time it happened?",
    "We have applied a fix. Could you try again?",
    "I reproduced it and passed it to engineering.",
)

_S, _P, _O, _T = Case.Status, Case.Priority, Case.Origin, Case.Type
PRIORITIES = ([_P.LOW, _P.MEDIUM, _P.HIGH, _P.URGENT], [20, 50, 22, 8])
ORIGINS = ([_O.EMAIL, _O.WEB, _O.PORTAL, _O.PHONE, _O.API, _O.AGENT], [45, 15, 20, 10, 5, 5])
TYPES = ([_T.QUESTION, _T.PROBLEM, _T.INCIDENT, _T.FEATURE_REQUEST], [40, 35, 15, 10])
OPEN_STATUSES = ([_S.NEW, _S.IN_PROGRESS, _S.WAITING_ON_CUSTOMER, _S.ESCALATED], [3, 4, 2, 1])

CASE_COLUMNS = (
    "id", "number", "subject", "description", "status", "priority", "origin", "type",
    "account_id", "contact_id", "owner_id", "queue_id", "created_at", "updated_at",
    "first_response_at", "resolved_at", "closed_at",
)  # fmt: skip
COMMENT_COLUMNS = (
    "case_id", "body", "is_public", "author_user_id", "author_contact_id", "channel",
    "created_at",
)  # fmt: skip
EVENT_COLUMNS = ("case_id", "actor_id", "kind", "field", "old_value", "new_value", "created_at")


@dataclass(frozen=True)
class Cast:
    agents: list[int]
    queues: list[int]
    contacts: list[tuple[int, int]]  # (contact id, account id)


class Command(BaseCommand):
    help = "Add N cases (with comments and history) fast, with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, required=True, help="How many cases to add.")
        parser.add_argument("--comments-per-case", type=int, default=2)
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=1, help="Seed of the random generator.")
        parser.add_argument(
            "--method",
            choices=("auto", "copy", "orm"),
            default="auto",
            help="copy: PostgreSQL COPY; orm: bulk_create; auto: copy on PostgreSQL.",
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        total = options["cases"]
        per_case = options["comments_per_case"]
        batch_size = options["batch_size"]
        if total < 1 or per_case < 0 or batch_size < 1:
            raise CommandError("--cases and --batch-size must be positive, comments not negative.")
        method = options["method"]
        if method == "auto":
            method = "copy" if connection.vendor == "postgresql" else "orm"
        if method == "copy" and connection.vendor != "postgresql":
            raise CommandError("--method copy needs PostgreSQL.")

        started = time.monotonic()
        cast = self._cast()
        rnd = random.Random(options["seed"])
        now = timezone.now()
        write = self._write_copy if method == "copy" else self._write_orm
        written = {"cases": 0, "comments": 0, "history rows": 0}
        bar = tqdm(total=total, unit="case", unit_scale=True, disable=options["no_progress"])
        try:
            done = 0
            while done < total:
                size = min(batch_size, total - done)
                # The earliest cases of the run come first, so numbers grow with time.
                first = now - timedelta(days=SPAN_DAYS) * (1 - done / total)
                step = timedelta(days=SPAN_DAYS) * (size / total)
                with transaction.atomic():
                    counts = write(rnd, cast, size, per_case, first, step, now)
                for key, value in counts.items():
                    written[key] += value
                done += size
                bar.update(size)
        finally:
            bar.close()
        if connection.vendor == "postgresql":
            # Fresh statistics, so the planner picks the desk's indexes straight away, and a
            # set visibility map, so counts are index-only scans as in a database autovacuum
            # has visited. VACUUM cannot run inside a transaction (e.g. under a test).
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            with connection.cursor() as cursor:
                cursor.execute(f"{command} cases_case, cases_casecomment, cases_caseevent")
        seconds = time.monotonic() - started
        summary = ", ".join(f"{n:,} {what}" for what, n in written.items())
        self.stdout.write(self.style.SUCCESS(f"Added {summary} in {seconds:.1f} s ({method})."))

    # -- the cast ---------------------------------------------------------------------

    def _cast(self) -> Cast:
        """Create the bulk accounts, contacts, agents and queues once; reuse them afterwards."""
        with transaction.atomic():
            emails = [f"bulk.agent{i:02d}@casedesk.localhost" for i in range(AGENT_COUNT)]
            existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
            if len(existing) < len(emails):
                # Agents cannot sign in with it: the bench creates its own login.
                unusable = make_password(None)
                User.objects.bulk_create(
                    [
                        User(email=e, name=f"Bulk Agent {i:02d}", is_staff=True, password=unusable)
                        for i, e in enumerate(emails)
                        if e not in existing
                    ]
                )
            agents = list(User.objects.filter(email__in=emails).values_list("pk", flat=True))
            queues = []
            for name in QUEUE_NAMES:
                queue, created = Queue.objects.get_or_create(
                    slug=name.lower().replace(" ", "-"), defaults={"name": name}
                )
                if created:
                    queue.members.add(*agents)
                queues.append(queue.pk)
            domains = [f"customer{i:03d}.{BULK_DOMAIN}" for i in range(ACCOUNT_COUNT)]
            have = set(
                AccountDomain.objects.filter(domain__in=domains).values_list("domain", flat=True)
            )
            missing = [d for d in domains if d not in have]
            if missing:
                accounts = Account.objects.bulk_create(
                    [Account(name=f"Customer {d.split('.')[0][8:]}") for d in missing]
                )
                AccountDomain.objects.bulk_create(
                    [
                        AccountDomain(account=a, domain=d)
                        for a, d in zip(accounts, missing, strict=True)
                    ]
                )
                Contact.objects.bulk_create(
                    [
                        Contact(
                            account=a,
                            first_name=f"Person {n}",
                            last_name=a.name,
                            email=f"person{n}@{d}",
                        )
                        for a, d in zip(accounts, missing, strict=True)
                        for n in range(CONTACTS_PER_ACCOUNT)
                    ]
                )
            contacts = list(
                Contact.objects.filter(account__domains__domain__in=domains)
                .order_by("pk")
                .values_list("pk", "account_id")
            )
        return Cast(agents=sorted(agents), queues=queues, contacts=contacts)

    # -- rows ----------------------------------------------------------------------------

    def _rows(
        self,
        rnd: random.Random,
        cast: Cast,
        size: int,
        per_case: int,
        first: datetime,
        step: timedelta,
        now: datetime,
    ) -> Iterator[tuple[tuple, list[tuple], tuple]]:
        """Yield (case row, comment rows, history row) without ids; the writer fills them."""
        numbers = allocate_case_numbers(size)
        choices, rand, randint = rnd.choices, rnd.random, rnd.randint
        statuses = choices(*OPEN_STATUSES, k=size)
        priorities = choices(*PRIORITIES, k=size)
        origins = choices(*ORIGINS, k=size)
        types = choices(*TYPES, k=size)
        spacing = step / size
        for i, number in enumerate(numbers):
            created = first + spacing * i
            age_days = (now - created).days
            # Old cases are nearly all finished; recent ones are mostly still open.
            status = statuses[i]
            if rand() < min(0.97, age_days / 30):
                status = _S.CLOSED if rand() < 0.75 else _S.RESOLVED
            contact_id, account_id = cast.contacts[randint(0, len(cast.contacts) - 1)]
            owner = None if (status == _S.NEW and rand() < 0.4) else rnd.choice(cast.agents)
            queue = rnd.choice(cast.queues)
            comments = []
            at = created
            first_response = None
            for n in range(per_case if status != _S.NEW else min(per_case, 1)):
                at = min(at + timedelta(minutes=randint(5, 600)), now)
                if n % 2 == 0:
                    comments.append(
                        (BODIES[randint(0, len(BODIES) - 1)], True, None, contact_id, "email", at)
                    )
                else:
                    agent = owner or cast.agents[0]
                    public = n % 4 == 1
                    comments.append((REPLIES[n % len(REPLIES)], public, agent, None, "desk", at))
                    if public and first_response is None:
                        first_response = at
            resolved = closed = None
            if status in (_S.RESOLVED, _S.CLOSED):
                resolved = at = min(at + timedelta(hours=randint(1, 72)), now)
                if status == _S.CLOSED:
                    closed = at = min(at + timedelta(days=3), now)
            case = (
                format_case_number(number),
                SUBJECTS[randint(0, len(SUBJECTS) - 1)],
                BODIES[randint(0, len(BODIES) - 1)],
                status,
                priorities[i],
                origins[i],
                types[i],
                account_id,
                contact_id,
                owner,
                queue,
                created,
                at,
                first_response,
                resolved,
                closed,
            )
            event = (None, "created", "", "", "New", created)
            yield case, comments, event

    def _write_copy(self, rnd: random.Random, cast: Cast, size: int, per_case: int,
                    first: datetime, step: timedelta, now: datetime) -> dict[str, int]:  # fmt: skip
        with connection.cursor() as cursor:
            # Reserve the ids up front (nextval never hands one out twice), so comments and
            # history can reference cases written in the same COPY batch.
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('cases_case', 'id')) "
                "FROM generate_series(1, %s)",
                [size],
            )
            ids = [row[0] for row in cursor.fetchall()]
            # Plan the whole batch before COPY starts: planning allocates case numbers with
            # a query, and the connection can run nothing else while a COPY is open.
            planned = list(self._rows(rnd, cast, size, per_case, first, step, now))
            comments: list[tuple] = []
            events: list[tuple] = []
            pg = cursor.cursor  # the psycopg cursor under Django's wrapper
            with pg.copy(f"COPY cases_case ({', '.join(CASE_COLUMNS)}) FROM STDIN") as copy:
                for case_id, (case, case_comments, event) in zip(ids, planned, strict=True):
                    copy.write_row((case_id, *case))
                    comments.extend((case_id, *c) for c in case_comments)
                    events.append((case_id, *event))
            with pg.copy(
                f"COPY cases_casecomment ({', '.join(COMMENT_COLUMNS)}) FROM STDIN"
            ) as copy:
                for row in comments:
                    copy.write_row(row)
            with pg.copy(f"COPY cases_caseevent ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for row in events:
                    copy.write_row(row)
        return {"cases": size, "comments": len(comments), "history rows": len(events)}

    def _write_orm(self, rnd: random.Random, cast: Cast, size: int, per_case: int,
                   first: datetime, step: timedelta, now: datetime) -> dict[str, int]:  # fmt: skip
        planned = list(self._rows(rnd, cast, size, per_case, first, step, now))
        cases = Case.objects.bulk_create(
            [Case(**dict(zip(CASE_COLUMNS[1:], case, strict=True))) for case, _, _ in planned],
            batch_size=1000,
        )
        if any(c.pk is None for c in cases):  # a database that cannot return ids
            ids = dict(
                Case.objects.filter(number__in=[c.number for c in cases]).values_list(
                    "number", "pk"
                )
            )
            for c in cases:
                c.pk = ids[c.number]
        comments = [
            CaseComment(case_id=c.pk, **dict(zip(COMMENT_COLUMNS[1:], row, strict=True)))
            for c, (_, rows, _) in zip(cases, planned, strict=True)
            for row in rows
        ]
        events = [
            CaseEvent(case_id=c.pk, **dict(zip(EVENT_COLUMNS[1:], event, strict=True)))
            for c, (_, _, event) in zip(cases, planned, strict=True)
        ]
        CaseComment.objects.bulk_create(comments, batch_size=1000)
        CaseEvent.objects.bulk_create(events, batch_size=1000)
        return {"cases": size, "comments": len(comments), "history rows": len(events)}
