"""Load deterministic demo data and print the demo logins.

The same seed and the same anchor date give the same rows on every fresh database, so
screenshots, docs and bug reports can point at "case 00001017". A second run finds the
demo marker (the first demo account's domain, written in the same transaction as
everything else) and only makes sure the four documented logins still work.

Rows are written with ``bulk_create`` (a few dozen statements for ~10,000 rows) instead
of through the services, which would cost a transaction, a lock and a history write per
change. The command writes the same history rows the services would have written, so
the demo timeline looks like the work really happened.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.text import slugify

from accounts.models import Account, AccountDomain, Contact, User
from cases.models import Activity, Case, CaseComment, CaseEvent, Queue
from cases.services import allocate_case_numbers, format_case_number

SEED = 20240917
# Everything is dated relative to this fixed moment, never to "now", so reruns on fresh
# databases are identical. It lies in the past so that no demo row is dated in the future.
ANCHOR = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
HISTORY_DAYS = 180
PASSWORD = "demo-pass-1234"  # noqa: S105 - documented demo password, printed on purpose

ACCOUNT_COUNT = 25
CONTACT_COUNT = 150
CASE_COUNT = 1500

DEMO_LOGINS = (
    ("admin@example.com", "superuser and agent: desk and /admin/"),
    ("agent@example.com", "agent: the desk at /desk/"),
    ("customer@example.com", "portal user at Acme Corporation"),
    ("manager@example.com", "portal account manager at Acme Corporation (sees all its cases)"),
)

AGENTS = (
    ("agent@example.com", "Alex Agent"),
    ("priya.nair@casedesk.localhost", "Priya Nair"),
    ("tomas.berg@casedesk.localhost", "Tomas Berg"),
    ("grace.okafor@casedesk.localhost", "Grace Okafor"),
    ("luis.ortega@casedesk.localhost", "Luis Ortega"),
    ("mei.chen@casedesk.localhost", "Mei Chen"),
)

QUEUES = (
    ("Support", "support", "support@casedesk.localhost"),
    ("Billing", "billing", "billing@casedesk.localhost"),
    ("Technical", "technical", "technical@casedesk.localhost"),
)

ACCOUNT_NAMES = (
    "Acme Corporation",
    "Globex",
    "Initech",
    "Umbrella Logistics",
    "Hooli",
    "Stark Tools",
    "Wayne Foods",
    "Soylent Farms",
    "Cyberdyne Systems",
    "Tyrell Biotech",
    "Wonka Sweets",
    "Vandelay Industries",
    "Pied Piper",
    "Dunder Paper",
    "Monarch Travel",
    "Oscorp Labs",
    "Gringotts Finance",
    "Nakatomi Trading",
    "Bluth Homes",
    "Prestige Worldwide",
    "Massive Dynamic",
    "Aperture Science",
    "Black Mesa Energy",
    "Sterling Cooper",
    "Krusty Restaurants",
)
DEMO_MARKER_DOMAIN = "acme.example"
DEMO_ACCOUNT = "Acme Corporation"
CITIES = (
    ("Berlin", "Germany"),
    ("Lyon", "France"),
    ("Austin", "United States"),
    ("Pune", "India"),
    ("Leeds", "United Kingdom"),
    ("Toronto", "Canada"),
    ("Melbourne", "Australia"),
    ("Valencia", "Spain"),
    ("Porto", "Portugal"),
)
FIRST_NAMES = (
    "Ana",
    "Ben",
    "Chloe",
    "David",
    "Elena",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kira",
    "Leo",
    "Maya",
    "Nils",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xenia",
    "Yusuf",
    "Zoe",
)
LAST_NAMES = (
    "Adler",
    "Brooks",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ivanova",
    "Jensen",
    "Khan",
    "Lopez",
    "Meyer",
    "Novak",
    "Olsen",
    "Patel",
    "Rossi",
    "Silva",
    "Tanaka",
    "Ueda",
    "Vargas",
    "Weber",
    "Young",
    "Zimmer",
)
TITLES = ("Office manager", "IT lead", "Finance", "Operations", "CTO", "Support contact", "")
TIMEZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "Asia/Kolkata", "UTC")

# (queue slug, type, subject, description): the problems customers really write about.
TOPICS = (
    (
        "support",
        "problem",
        "Cannot sign in after password reset",
        "I reset my password this morning and now the login page says my credentials are wrong.",
    ),
    (
        "support",
        "question",
        "How do I add a colleague to our account?",
        "A new team member started today. How can I give them access?",
    ),
    (
        "support",
        "problem",
        "Export to CSV is empty",
        "When I export last month's report the CSV only has the header row.",
    ),
    (
        "support",
        "question",
        "Change the email address on our account",
        "Our company moved to a new domain; please update the contact address.",
    ),
    (
        "support",
        "feature_request",
        "Dark mode for the dashboard",
        "Our night shift would love a darker theme for the dashboard.",
    ),
    (
        "support",
        "incident",
        "Notifications stopped arriving",
        "Since yesterday none of us receives the notification emails any more.",
    ),
    (
        "billing",
        "question",
        "Invoice shows the wrong VAT number",
        "The last invoice has our old VAT number. Can you reissue it?",
    ),
    (
        "billing",
        "problem",
        "Charged twice this month",
        "Our card statement shows two identical charges for this month's subscription.",
    ),
    (
        "billing",
        "question",
        "Switch to annual billing",
        "We would like to move from monthly to annual billing. What are the steps?",
    ),
    (
        "billing",
        "question",
        "Need a copy of last year's invoices",
        "Our auditor asks for all invoices from last year as PDF.",
    ),
    (
        "billing",
        "problem",
        "Payment link expired",
        "The payment link in your email says it expired before we could pay.",
    ),
    (
        "technical",
        "incident",
        "API returns 502 errors",
        "Our integration gets intermittent 502 responses from the API since 08:00 UTC.",
    ),
    (
        "technical",
        "problem",
        "Webhook signatures do not verify",
        "The signature check on your webhooks fails for about one in ten events.",
    ),
    (
        "technical",
        "question",
        "Rate limits for the reporting API",
        "What are the rate limits on the reporting endpoints? We plan a nightly sync.",
    ),
    (
        "technical",
        "problem",
        "SSO login loops back to the sign-in page",
        "After the identity provider redirects back we land on the sign-in page again.",
    ),
    (
        "technical",
        "feature_request",
        "Bulk import of contacts via API",
        "We would like to import our 3,000 contacts through the API instead of the UI.",
    ),
    (
        "technical",
        "incident",
        "Data sync stuck since the weekend",
        "The calendar sync shows 'pending' for all events created since Saturday.",
    ),
)
AGENT_REPLIES = (
    "Thanks for reaching out. I am looking into this now and will update you shortly.",
    "Thanks for the details. Could you send us a screenshot of what you see?",
    "I reproduced the problem and passed it to our engineers; I will keep you posted.",
    "Could you confirm which browser and version you are using?",
    "We have applied a fix on our side. Could you try again and let us know?",
    "I have updated your account as requested.",
)
CUSTOMER_REPLIES = (
    "Thanks, here is the screenshot you asked for.",
    "It still happens for two of my colleagues.",
    "Chrome 131 on Windows 11.",
    "That worked, thank you!",
    "Any update on this? It is blocking our team.",
    "Sorry for the delay, I was out of office.",
)
INTERNAL_NOTES = (
    "Customer is on the enterprise tier; keep the response time tight.",
    "Looks like the same root cause as last week's incident.",
    "Checked the logs: the requests never reached the app servers.",
    "Asked engineering in the incidents channel.",
    "Duplicate of an older case; linking them.",
)
RESOLUTIONS = (
    "Glad that worked. I am marking this case as resolved; reply if anything comes up.",
    "The fix is deployed. Resolving this case, but feel free to reopen it.",
)
WAITING_QUESTIONS = (
    "Could you send us the exact time the error happened and the request id?",
    "Could you confirm whether this still happens after clearing the browser cache?",
    "Could you tell us which user accounts are affected?",
)

# What the demo logins' own cases look like: enough to try every portal state.
CUSTOMER_CASES = (
    (Case.Status.WAITING_ON_CUSTOMER, 2),
    (Case.Status.NEW, 0),
    (Case.Status.IN_PROGRESS, 4),
    (Case.Status.ESCALATED, 6),
    (Case.Status.RESOLVED, 12),
    (Case.Status.CLOSED, 40),
)
MANAGER_CASES = (
    (Case.Status.IN_PROGRESS, 1),
    (Case.Status.NEW, 3),
    (Case.Status.CLOSED, 25),
)


@dataclass
class PlannedCase:
    """One case and the rows hung on it, before any of them has an id."""

    case: Case
    comments: list[CaseComment] = field(default_factory=list)
    events: list[CaseEvent] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)


class Command(BaseCommand):
    help = "Load deterministic demo data (idempotent) and print the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            logins = self._ensure_logins()
            if AccountDomain.objects.filter(domain=DEMO_MARKER_DOMAIN).exists():
                self.stdout.write("Demo data is already loaded; nothing to add.")
            else:
                counts = self._load(logins)
                self.stdout.write(
                    self.style.SUCCESS(
                        "Loaded demo data: "
                        + ", ".join(f"{n:,} {what}" for what, n in counts.items())
                    )
                )
        self._print_logins()

    # -- logins ----------------------------------------------------------------------

    def _ensure_logins(self) -> dict[str, User]:
        """Create the demo users, or put their flags and password back if someone changed them."""
        hashed = make_password(PASSWORD)
        specs: dict[str, dict[str, Any]] = {
            "admin@example.com": {"name": "Ada Admin", "is_staff": True, "is_superuser": True},
            "customer@example.com": {"name": "Casey Customer", "is_staff": False},
            "manager@example.com": {"name": "Morgan Manager", "is_staff": False},
        }
        for email, name in AGENTS:
            specs[email] = {"name": name, "is_staff": True}
        users = {}
        for email, wanted in specs.items():
            user, created = User.objects.get_or_create(
                email=email, defaults={**wanted, "password": hashed}
            )
            if not created:
                stale = {k: v for k, v in wanted.items() if k != "name" and getattr(user, k) != v}
                if not user.is_active:
                    stale["is_active"] = True
                for key, value in stale.items():
                    setattr(user, key, value)
                if email in dict(DEMO_LOGINS) and not user.check_password(PASSWORD):
                    user.password = hashed
                    stale["password"] = hashed
                if stale:
                    user.save(update_fields=list(stale))
            users[email] = user
        return users

    def _print_logins(self) -> None:
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {PASSWORD}):")
        for email, what in DEMO_LOGINS:
            self.stdout.write(f"  {email:<24} {what}")

    # -- data ------------------------------------------------------------------------

    def _load(self, logins: dict[str, User]) -> dict[str, int]:
        rnd = random.Random(SEED)
        agents = [logins[email] for email, _ in AGENTS]
        admin = logins["admin@example.com"]
        queues = self._queues(agents)
        accounts = self._accounts(rnd, agents)
        contacts, customer, manager = self._contacts(rnd, accounts, logins)
        planner = _Planner(rnd, agents=agents, admin=admin, queues=queues)

        # Ordinary traffic from every contact except the two demo logins, whose cases are
        # planned below so that each portal state is there to try.
        others = [c for c in contacts if c.pk not in (customer.pk, manager.pk)]
        plans = []
        special = len(CUSTOMER_CASES) + len(MANAGER_CASES)
        for _ in range(CASE_COUNT - special):
            age = timedelta(minutes=rnd.randint(30, HISTORY_DAYS * 24 * 60))
            plans.append(planner.plan(contact=rnd.choice(others), created=ANCHOR - age))
        for contact, wanted in ((customer, CUSTOMER_CASES), (manager, MANAGER_CASES)):
            for status, days_ago in wanted:
                created = ANCHOR - timedelta(days=days_ago, hours=rnd.randint(1, 20))
                plans.append(planner.plan(contact=contact, created=created, status=status))

        # Numbers follow the creation order, as they would have if created one by one.
        plans.sort(key=lambda p: p.case.created_at)
        numbers = allocate_case_numbers(len(plans))
        for plan, number in zip(plans, numbers, strict=True):
            plan.case.number = format_case_number(number)
        cases = Case.objects.bulk_create([p.case for p in plans], batch_size=500)
        if any(c.pk is None for c in cases):  # a database that cannot return ids
            ids = dict(
                Case.objects.filter(number__in=[c.number for c in cases]).values_list(
                    "number", "pk"
                )
            )
            for c in cases:
                c.pk = ids[c.number]
        comments, events, activities = [], [], []
        for plan in plans:
            for row in (*plan.comments, *plan.events, *plan.activities):
                row.case = plan.case
            comments += plan.comments
            events += plan.events
            activities += plan.activities
        CaseComment.objects.bulk_create(comments, batch_size=1000)
        CaseEvent.objects.bulk_create(events, batch_size=1000)
        Activity.objects.bulk_create(activities, batch_size=1000)
        return {
            "accounts": len(accounts),
            "contacts": len(contacts),
            "agents": len(agents),
            "queues": len(queues),
            "cases": len(cases),
            "comments": len(comments),
            "history rows": len(events),
            "activities": len(activities),
        }

    def _queues(self, agents: list[User]) -> dict[str, Queue]:
        queues = {}
        for index, (name, slug, address) in enumerate(QUEUES):
            queue, _ = Queue.objects.update_or_create(
                slug=slug, defaults={"name": name, "inbound_address": address}
            )
            # Every agent works Support; the specialists split Billing and Technical.
            members = agents if slug == "support" else agents[index::2] + agents[:1]
            queue.members.add(*members)
            queues[slug] = queue
        return queues

    def _accounts(self, rnd: random.Random, agents: list[User]) -> list[Account]:
        accounts = []
        for index, name in enumerate(ACCOUNT_NAMES):
            city, country = rnd.choice(CITIES)
            accounts.append(
                Account(
                    name=name,
                    tier=rnd.choices([t.value for t in Account.Tier], weights=[6, 3, 1])[0]
                    if index
                    else Account.Tier.ENTERPRISE,
                    phone=f"+1 555 01{index:02d}",
                    website=f"https://www.{_domain(name)}",
                    billing_street=f"{rnd.randint(1, 200)} Main Street",
                    billing_city=city,
                    billing_postal_code=f"{rnd.randint(10000, 99999)}",
                    billing_country=country,
                    owner=agents[index % len(agents)],
                )
            )
        accounts = Account.objects.bulk_create(accounts)
        AccountDomain.objects.bulk_create(
            [AccountDomain(account=a, domain=_domain(a.name)) for a in accounts]
        )
        return accounts

    def _contacts(
        self, rnd: random.Random, accounts: list[Account], logins: dict[str, User]
    ) -> tuple[list[Contact], Contact, Contact]:
        acme = accounts[ACCOUNT_NAMES.index(DEMO_ACCOUNT)]
        customer = Contact(
            account=acme,
            first_name="Casey",
            last_name="Customer",
            email="customer@example.com",
            user=logins["customer@example.com"],
            portal_role=Contact.PortalRole.USER,
            title="Office manager",
        )
        manager = Contact(
            account=acme,
            first_name="Morgan",
            last_name="Manager",
            email="manager@example.com",
            user=logins["manager@example.com"],
            portal_role=Contact.PortalRole.MANAGER,
            title="IT lead",
        )
        contacts = [customer, manager]
        seen = {c.email for c in contacts}
        index = 0
        while len(contacts) < CONTACT_COUNT:
            # Acme gets a few more people so the manager has colleagues' cases to see.
            account = acme if index < 4 else accounts[index % len(accounts)]
            index += 1
            first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
            email = f"{first}.{last}@{_domain(account.name)}".lower()
            if email in seen:
                continue
            seen.add(email)
            contacts.append(
                Contact(
                    account=account,
                    first_name=first,
                    last_name=last,
                    email=email,
                    phone=f"+1 555 {rnd.randint(1000, 9999)}",
                    title=rnd.choice(TITLES),
                    timezone=rnd.choice(TIMEZONES),
                )
            )
        contacts = Contact.objects.bulk_create(contacts)
        return contacts, contacts[0], contacts[1]


def _domain(name: str) -> str:
    return slugify(name.replace("Corporation", "")).strip("-") + ".example"


_S = Case.Status
# The walk through the workflow that ends in each status (every step an allowed transition).
PATHS: dict[str, tuple[str, ...]] = {
    _S.NEW: (),
    _S.IN_PROGRESS: (_S.IN_PROGRESS,),
    _S.WAITING_ON_CUSTOMER: (_S.IN_PROGRESS, _S.WAITING_ON_CUSTOMER),
    _S.ESCALATED: (_S.IN_PROGRESS, _S.ESCALATED),
    _S.RESOLVED: (_S.IN_PROGRESS, _S.RESOLVED),
    _S.CLOSED: (_S.IN_PROGRESS, _S.RESOLVED, _S.CLOSED),
}


class _Planner:
    """Plans one case's life (comments, status walk, history, activities) from one RNG."""

    def __init__(
        self, rnd: random.Random, *, agents: list[User], admin: User, queues: dict[str, Queue]
    ) -> None:
        self.rnd = rnd
        self.agents = agents
        self.admin = admin
        self.queues = queues

    def _status_for(self, age: timedelta) -> str:
        # Young cases are mostly open; after a month nearly everything is resolved or closed.
        days = age.total_seconds() / 86400
        closed_share = min(0.92, days / 30)
        if self.rnd.random() < closed_share:
            return self.rnd.choices([_S.RESOLVED, _S.CLOSED], weights=[1, 3])[0]
        return self.rnd.choices(
            [_S.NEW, _S.IN_PROGRESS, _S.WAITING_ON_CUSTOMER, _S.ESCALATED],
            weights=[3, 4, 2, 1],
        )[0]

    def _gap(self, at: datetime, low_minutes: int, high_minutes: int) -> datetime:
        # Never past the anchor: the demo's "now".
        return min(at + timedelta(minutes=self.rnd.randint(low_minutes, high_minutes)), ANCHOR)

    def plan(
        self, *, contact: Contact, created: datetime, status: str | None = None
    ) -> PlannedCase:
        rnd = self.rnd
        status = status or self._status_for(ANCHOR - created)
        queue_slug, case_type, subject, description = rnd.choice(TOPICS)
        queue = self.queues[queue_slug]
        origin = rnd.choices(
            [
                Case.Origin.EMAIL,
                Case.Origin.PORTAL,
                Case.Origin.WEB,
                Case.Origin.PHONE,
                Case.Origin.API,
                Case.Origin.AGENT,
            ],
            weights=[5, 3, 2, 2, 1, 1],
        )[0]
        priority = rnd.choices(
            [Case.Priority.LOW, Case.Priority.MEDIUM, Case.Priority.HIGH, Case.Priority.URGENT],
            weights=[2, 5, 2, 1],
        )[0]
        if case_type == Case.Type.INCIDENT and priority == Case.Priority.LOW:
            priority = Case.Priority.HIGH
        # A third of the new cases still wait in their queue for someone to pick them up.
        unassigned = status == _S.NEW and rnd.random() < 0.35
        owner = None if unassigned else rnd.choice(self.agents)
        case = Case(
            subject=subject,
            description=f"Hello,\n\n{description}\n\nThanks,\n{contact.first_name}",
            status=status,
            priority=priority,
            origin=origin,
            type=case_type,
            account_id=contact.account_id,
            contact=contact,
            owner=owner,
            queue=queue,
            created_at=created,
        )
        plan = PlannedCase(case=case)
        plan.events.append(
            CaseEvent(kind=CaseEvent.Kind.CREATED, new_value=_S.NEW.label, created_at=created)
        )
        now = created
        if owner is not None:
            now = self._gap(now, 2, 90)
            plan.events.append(
                CaseEvent(
                    actor=owner,
                    kind=CaseEvent.Kind.ASSIGNED,
                    field="owner",
                    old_value="",
                    new_value=str(owner),
                    created_at=now,
                )
            )
        if owner is not None and rnd.random() < 0.3:
            now = self._activity(plan, owner, status, now)
        previous = _S.NEW
        for step in PATHS[status]:
            now = self._step(plan, owner, contact, previous, step, now)
            previous = step
        if status == _S.NEW and rnd.random() < 0.3:
            now = self._gap(now, 20, 600)
            self._comment(plan, contact=contact, body=rnd.choice(CUSTOMER_REPLIES), at=now)
        case.updated_at = max(now, created)
        return plan

    def _step(
        self,
        plan: PlannedCase,
        owner: User | None,
        contact: Contact,
        old: str,
        new: str,
        now: datetime,
    ) -> datetime:
        rnd = self.rnd
        actor = owner or self.admin
        case = plan.case
        if new == _S.IN_PROGRESS:
            now = self._gap(now, 5, 240)
            self._comment(plan, author=actor, body=rnd.choice(AGENT_REPLIES), public=True, at=now)
            if rnd.random() < 0.4:
                now = self._gap(now, 30, 1440)
                self._comment(plan, contact=contact, body=rnd.choice(CUSTOMER_REPLIES), at=now)
        elif new == _S.WAITING_ON_CUSTOMER:
            now = self._gap(now, 10, 600)
            self._comment(
                plan, author=actor, body=rnd.choice(WAITING_QUESTIONS), public=True, at=now
            )
        elif new == _S.ESCALATED:
            now = self._gap(now, 10, 600)
            self._comment(plan, author=actor, body=rnd.choice(INTERNAL_NOTES), public=False, at=now)
        elif new == _S.RESOLVED:
            if rnd.random() < 0.5:
                now = self._gap(now, 10, 600)
                self._comment(
                    plan, author=actor, body=rnd.choice(INTERNAL_NOTES), public=False, at=now
                )
            now = self._gap(now, 30, 2880)
            self._comment(plan, author=actor, body=rnd.choice(RESOLUTIONS), public=True, at=now)
            case.resolved_at = now
        elif new == _S.CLOSED:
            # Resolved cases close on their own after a few quiet days.
            now = self._gap(now, 3 * 1440, 7 * 1440)
            case.closed_at = now
            actor = None
        plan.events.append(
            CaseEvent(
                actor=actor,
                kind=CaseEvent.Kind.STATUS_CHANGED,
                field="status",
                old_value=_S(old).label,
                new_value=_S(new).label,
                created_at=now,
            )
        )
        return now

    def _comment(
        self,
        plan: PlannedCase,
        *,
        body: str,
        at: datetime,
        author: User | None = None,
        contact: Contact | None = None,
        public: bool = True,
    ) -> None:
        case = plan.case
        if contact is not None:
            channel = (
                CaseComment.Channel.PORTAL
                if case.origin == Case.Origin.PORTAL
                else CaseComment.Channel.EMAIL
            )
            comment = CaseComment(
                body=body,
                is_public=True,
                author_user=contact.user,
                author_contact=contact,
                channel=channel,
                created_at=at,
            )
            actor = contact.user
        else:
            comment = CaseComment(
                body=body,
                is_public=public,
                author_user=author,
                channel=CaseComment.Channel.DESK,
                created_at=at,
            )
            actor = author
            # As comment_add does: the first public agent reply is the first response.
            if public and case.first_response_at is None:
                case.first_response_at = at
        plan.comments.append(comment)
        plan.events.append(
            CaseEvent(
                actor=actor,
                kind=CaseEvent.Kind.COMMENT_ADDED,
                new_value="public reply" if comment.is_public else "internal note",
                created_at=at,
            )
        )

    def _activity(self, plan: PlannedCase, owner: User, status: str, now: datetime) -> datetime:
        rnd = self.rnd
        now = self._gap(now, 5, 120)
        kind = rnd.choice([Activity.Kind.FOLLOW_UP, Activity.Kind.CALL, Activity.Kind.MEETING])
        when = now + timedelta(days=rnd.randint(1, 5), hours=rnd.randint(0, 6))
        activity = Activity(kind=kind, owner=owner, created_by=owner, created_at=now)
        if kind == Activity.Kind.FOLLOW_UP:
            activity.subject = "Check back with the customer"
            activity.due_at = when
        else:
            activity.subject = (
                "Call to walk through the fix"
                if kind == Activity.Kind.CALL
                else "Review meeting with the customer"
            )
            activity.starts_at = when
            activity.ends_at = when + timedelta(minutes=30)
        # Work on finished cases was done; open cases keep their follow-ups open.
        if status in (_S.RESOLVED, _S.CLOSED) and when <= ANCHOR:
            activity.done_at = when
        plan.activities.append(activity)
        plan.events.append(
            CaseEvent(
                actor=owner,
                kind=CaseEvent.Kind.ACTIVITY_CREATED,
                field="activity",
                new_value=f"{activity.get_kind_display()}: {activity.subject}",
                created_at=now,
            )
        )
        return now
