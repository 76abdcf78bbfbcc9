from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Exists, F, OuterRef

from accounts.models import Account, Contact, User
from cases.models import Activity, Case, CaseComment, CaseEvent, Queue
from cases.services import format_case_number

DEMO_PASSWORD = "demo-pass-1234"


def _seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for app in ("accounts", "cases", "access")
        for model in apps.get_app_config(app).get_models()
    }


@pytest.mark.django_db
def test_seed_demo_creates_the_documented_logins_and_they_sign_in():
    output = _seed_demo()

    for email in (
        "admin@example.com",
        "agent@example.com",
        "customer@example.com",
        "manager@example.com",
    ):
        assert email in output
        assert authenticate(email=email, password=DEMO_PASSWORD) is not None, email
    assert DEMO_PASSWORD in output
    admin = User.objects.get(email="admin@example.com")
    assert admin.is_staff
    assert admin.is_superuser
    agent = User.objects.get(email="agent@example.com")
    assert agent.is_staff
    assert not agent.is_superuser
    customer = Contact.objects.get(email="customer@example.com")
    manager = Contact.objects.get(email="manager@example.com")
    assert customer.user.email == "customer@example.com"
    assert not customer.user.is_staff
    assert manager.user.email == "manager@example.com"
    assert not manager.user.is_staff
    assert manager.portal_role == Contact.PortalRole.MANAGER
    assert customer.portal_role == Contact.PortalRole.USER
    assert customer.account_id == manager.account_id


@pytest.mark.django_db
def test_seed_demo_loads_the_promised_amounts():
    _seed_demo()

    assert Account.objects.count() == 25
    assert Account.objects.filter(domains__isnull=True).count() == 0
    assert Contact.objects.count() == 150
    assert User.objects.filter(is_staff=True, is_superuser=False).count() == 6
    assert set(Queue.objects.values_list("inbound_address", flat=True)) >= {
        "support@casedesk.localhost"
    }
    assert Queue.objects.count() == 3
    assert Case.objects.count() == 1500
    assert CaseComment.objects.filter(is_public=True).exists()
    assert CaseComment.objects.filter(is_public=False).exists()
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.CREATED).count() == 1500
    assert Activity.objects.exists()
    assert {s for s, _ in Case.Status.choices} == set(
        Case.objects.values_list("status", flat=True).distinct()
    )


@pytest.mark.django_db
def test_seed_demo_twice_changes_no_row_counts():
    _seed_demo()
    before = _row_counts()
    numbers = list(Case.objects.order_by("number").values_list("number", flat=True))

    output = _seed_demo()

    assert "already loaded" in output
    assert _row_counts() == before
    assert list(Case.objects.order_by("number").values_list("number", flat=True)) == numbers


@pytest.mark.django_db
def test_seed_demo_second_run_repairs_a_changed_demo_password():
    _seed_demo()
    customer = User.objects.get(email="customer@example.com")
    customer.set_password("something-else-entirely")
    customer.save()

    _seed_demo()

    assert authenticate(email="customer@example.com", password=DEMO_PASSWORD) is not None


@pytest.mark.django_db
def test_seed_demo_data_is_consistent_with_the_workflow():
    _seed_demo()
    cases = Case.objects.all()

    # Numbers: one consecutive block, growing with creation time.
    by_time = list(cases.order_by("created_at", "number").values_list("number", flat=True))
    first = int(by_time[0])
    assert by_time == [format_case_number(first + i) for i in range(len(by_time))]
    # Status timestamps follow the status.
    closed = Case.statuses_in(Case.StatusCategory.CLOSED)
    assert not cases.exclude(status__in=closed).filter(resolved_at__isnull=False).exists()
    assert not cases.filter(status__in=closed, resolved_at__isnull=True).exists()
    assert not cases.filter(status=Case.Status.CLOSED, closed_at__isnull=True).exists()
    assert not cases.exclude(status=Case.Status.CLOSED).filter(closed_at__isnull=False).exists()
    # First response is set exactly when an agent has replied publicly.
    agent_reply = CaseComment.objects.filter(
        case=OuterRef("pk"), is_public=True, author_user__is_staff=True
    )
    annotated = cases.annotate(replied=Exists(agent_reply))
    assert not annotated.filter(replied=True, first_response_at__isnull=True).exists()
    assert not annotated.filter(replied=False, first_response_at__isnull=False).exists()
    # Every comment has its history row, and nothing happens before the case exists.
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.COMMENT_ADDED).count() == (
        CaseComment.objects.count()
    )
    for case in cases.filter(comments__isnull=False).distinct()[:50]:
        assert all(c.created_at >= case.created_at for c in case.comments.all())
        assert case.updated_at >= max(c.created_at for c in case.comments.all())
    # Contacts' cases belong to their account.
    assert not cases.exclude(contact=None).exclude(account_id=F("contact__account_id")).exists()


@pytest.mark.django_db
def test_seed_demo_gives_the_portal_logins_cases_to_try():
    _seed_demo()
    customer = Contact.objects.get(email="customer@example.com")
    manager = Contact.objects.get(email="manager@example.com")

    own = Case.objects.filter(contact=customer)
    assert 3 <= own.count() <= 10
    assert own.filter(status=Case.Status.WAITING_ON_CUSTOMER).count() == 1
    assert own.filter(status__in=Case.statuses_in(Case.StatusCategory.OPEN)).exists()
    # The manager sees colleagues' cases that are not their own.
    colleagues = Case.objects.filter(account=manager.account).exclude(contact=manager)
    assert colleagues.exclude(contact=customer).exists()
    assert Case.objects.filter(contact=manager).exists()


@pytest.mark.django_db
def test_seed_demo_is_deterministic():
    _seed_demo()
    first = list(
        Case.objects.order_by("number").values_list("subject", "status", "priority", "created_at")
    )
    Activity.objects.all().delete()
    CaseEvent.objects.all().delete()
    CaseComment.objects.all().delete()
    Case.objects.all().delete()
    Contact.objects.all().delete()
    Account.objects.all().delete()

    _seed_demo()

    again = list(
        Case.objects.order_by("number").values_list("subject", "status", "priority", "created_at")
    )
    assert again == first


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["auto", "orm"])
def test_seed_bulk_adds_cases_with_comments_and_history(method):
    out = StringIO()
    call_command(
        "seed_bulk",
        cases=200,
        comments_per_case=3,
        batch_size=70,
        method=method,
        no_progress=True,
        stdout=out,
    )

    assert Case.objects.count() == 200
    assert "Added 200 cases" in out.getvalue()
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.CREATED).count() == 200
    numbers = list(Case.objects.values_list("number", flat=True))
    assert len(set(numbers)) == 200
    # New cases carry at most the customer's first message; the rest carry three comments.
    new = Case.objects.filter(status=Case.Status.NEW)
    assert CaseComment.objects.count() == new.count() + 3 * (200 - new.count())
    assert not CaseComment.objects.filter(
        author_contact__isnull=True, author_user__isnull=True
    ).exists()
    # Spread over the cast, statuses and priorities, so desk filters mean something.
    distinct = Case.objects.order_by()
    assert distinct.values("owner").distinct().count() > 5
    assert distinct.values("queue").distinct().count() == 5
    assert distinct.values("account").distinct().count() > 20
    assert distinct.values("priority").distinct().count() == len(Case.Priority.choices)
    # Most of two years' cases are finished; the recent ones are still open.
    categories = {Case.category_of(s) for s in distinct.values_list("status", flat=True)}
    assert {Case.StatusCategory.OPEN, Case.StatusCategory.CLOSED} <= categories
    closed = Case.statuses_in(Case.StatusCategory.CLOSED)
    assert not Case.objects.filter(status__in=closed, resolved_at__isnull=True).exists()
    assert not Case.objects.exclude(status__in=closed).filter(resolved_at__isnull=False).exists()
    for case in Case.objects.select_related("contact")[:50]:
        assert case.account_id == case.contact.account_id


@pytest.mark.django_db
def test_seed_bulk_reuses_its_cast_and_continues_the_numbers():
    call_command("seed_bulk", cases=30, no_progress=True, stdout=StringIO())
    people = (
        User.objects.count(),
        Contact.objects.count(),
        Account.objects.count(),
        Queue.objects.count(),
    )
    last = Case.objects.order_by("-number").values_list("number", flat=True)[0]

    call_command("seed_bulk", cases=30, no_progress=True, stdout=StringIO())

    assert (
        User.objects.count(),
        Contact.objects.count(),
        Account.objects.count(),
        Queue.objects.count(),
    ) == people
    assert Case.objects.count() == 60
    assert Case.objects.filter(number__gt=last).count() == 30


@pytest.mark.django_db
def test_seed_bulk_copy_method_runs_on_postgresql_and_is_refused_elsewhere():
    if connection.vendor == "postgresql":
        call_command("seed_bulk", cases=5, method="copy", no_progress=True, stdout=StringIO())
        assert Case.objects.count() == 5
    else:
        with pytest.raises(CommandError, match="PostgreSQL"):
            call_command("seed_bulk", cases=5, method="copy", no_progress=True)
        assert not Case.objects.exists()
