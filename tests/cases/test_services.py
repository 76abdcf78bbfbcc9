import pytest
from django.db import transaction

from cases import services
from cases.models import Case, CaseEvent
from lib import events
from lib.errors import InvalidTransition


@pytest.fixture
def recorded_events():
    seen = []

    def record(event):
        seen.append(event)

    events.subscribe("*")(record)
    yield seen
    events.unsubscribe("*", record)


@pytest.mark.django_db(transaction=True)
def test_case_create_writes_history_and_publishes_after_commit(agent, recorded_events):
    with transaction.atomic():
        case = services.case_create(actor=agent, subject="Printer on fire")
        assert recorded_events == []
    assert [e.name for e in recorded_events] == ["case.created"]
    assert recorded_events[0].payload["case_id"] == case.pk
    assert case.number.isdigit()
    assert len(case.number) == 8
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.CREATED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_rollback_publishes_nothing(agent, recorded_events):
    def create_then_fail():
        with transaction.atomic():
            services.case_create(actor=agent, subject="Never saved")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert recorded_events == []
    assert not Case.objects.exists()


@pytest.mark.django_db
def test_invalid_transition_is_rejected_and_nothing_saved(agent):
    case = services.case_create(actor=agent, subject="Locked out")
    services.case_change_status(actor=agent, case=case, status=Case.Status.CLOSED)
    with pytest.raises(InvalidTransition):
        services.case_change_status(actor=agent, case=case, status=Case.Status.WAITING_ON_CUSTOMER)
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STATUS_CHANGED).count() == 1
