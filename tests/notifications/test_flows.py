"""The flow engine: triggers, conditions, actions, run once, fixed recipients, FLS context."""

import pytest

from cases import services as case_services
from cases.models import Activity, Case
from notifications.models import EmailTemplate, Flow, FlowAction, FlowCondition, OutboundEmail
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(customer_account):
    return ContactFactory(email="carol@acme.test", account=customer_account)


@pytest.fixture
def template():
    return EmailTemplate.objects.create(
        slug="t-test",
        name="Test",
        subject="Flow {{ case.number }} {{ case.priority }}",
        text_body="Hello {{ recipient.email }}",
    )


def flow(trigger, *, conditions=(), match="all", once=False, actions=()):
    f = Flow.objects.create(
        name=f"F {trigger} {Flow.objects.count()}",
        slug=f"f-{Flow.objects.count()}",
        trigger=trigger,
        match=match,
        run_once_per_case=once,
    )
    for field, op, value in conditions:
        FlowCondition.objects.create(flow=f, field=field, operator=op, value=value)
    for i, kwargs in enumerate(actions, start=1):
        FlowAction.objects.create(flow=f, position=i, **kwargs)
    return f


def mails_of(f):
    return OutboundEmail.objects.filter(flow=f)


def test_conditions_all_and_any(admin, contact, template):
    send = {
        "kind": "send_email",
        "template": template,
        "recipient": "fixed",
        "addresses": "ops@example.test",
    }
    all_flow = flow(
        "case_created",
        actions=[send],
        conditions=[("priority", "equals", "high"), ("subject", "contains", "outage")],
    )
    any_flow = flow(
        "case_created",
        match="any",
        actions=[send],
        conditions=[("priority", "in", "urgent, high"), ("origin", "not_equals", "agent")],
    )

    case_services.case_create(
        actor=admin, subject="Big outage", contact=contact, priority=Case.Priority.HIGH
    )
    case_services.case_create(
        actor=admin, subject="Small thing", contact=contact, priority=Case.Priority.HIGH
    )
    case_services.case_create(
        actor=admin, subject="Small thing", contact=contact, priority=Case.Priority.LOW
    )

    assert mails_of(all_flow).count() == 1
    assert mails_of(any_flow).count() == 2


def test_changed_to_and_run_once_per_case(admin, contact, template):
    f = flow(
        "priority_changed",
        once=True,
        conditions=[("priority", "changed_to", "urgent")],
        actions=[
            {
                "kind": "send_email",
                "template": template,
                "recipient": "fixed",
                "addresses": "ops@example.test",
            }
        ],
    )
    case = case_services.case_create(actor=admin, subject="S", contact=contact)

    case_services.case_update(actor=admin, case=case, priority=Case.Priority.HIGH)
    case_services.case_update(actor=admin, case=case, priority=Case.Priority.URGENT)
    case_services.case_update(actor=admin, case=case, priority=Case.Priority.LOW)
    case_services.case_update(actor=admin, case=case, priority=Case.Priority.URGENT)

    [mail] = mails_of(f)
    assert mail.to == ["ops@example.test"]
    assert mail.subject == f"Flow {case.number} Urgent"


def test_queue_members_and_account_contacts(
    admin, agent, other_agent, queue, contact, customer_account, template
):
    queue.members.add(other_agent)
    colleague = ContactFactory(email="colleague@acme.test", account=customer_account)
    to_queue = flow(
        "case_created",
        actions=[{"kind": "send_email", "template": template, "recipient": "queue_members"}],
    )
    to_account = flow(
        "case_created",
        actions=[{"kind": "send_email", "template": template, "recipient": "account_contacts"}],
    )

    case_services.case_create(actor=admin, subject="S", contact=contact, queue=queue)

    assert sorted(m.to[0] for m in mails_of(to_queue)) == [agent.email, other_agent.email]
    assert [m.to for m in mails_of(to_account)] == [[colleague.email]]


def test_set_field_activity_and_note_actions(admin, agent, contact):
    flow(
        "case_created",
        actions=[
            {"kind": "set_field", "field_name": "priority", "value": "urgent"},
            {"kind": "create_activity", "value": "Call the customer", "due_in_hours": 4},
            {"kind": "add_note", "value": "Auto-triaged case {{ case.number }}"},
        ],
    )

    case = case_services.case_create(actor=admin, subject="S", contact=contact, owner=agent)

    case.refresh_from_db()
    assert case.priority == Case.Priority.URGENT
    activity = Activity.objects.get(case=case)
    assert activity.subject == "Call the customer"
    assert activity.owner == agent
    note = case.comments.get()
    assert not note.is_public
    assert note.body == f"Auto-triaged case {case.number}"


def test_internal_note_never_reaches_the_contact_through_a_template(admin, contact):
    t = EmailTemplate.objects.create(
        slug="leak", name="Leak", subject="x", text_body="[{{ comment.body }}]"
    )
    flow(
        "agent_public_reply",
        actions=[{"kind": "send_email", "template": t, "recipient": "contact"}],
    )
    case = case_services.case_create(actor=admin, subject="S", contact=contact)

    case_services.comment_add(actor=admin, case=case, body="secret note", is_public=False)
    case_services.comment_add(actor=admin, case=case, body="public answer", is_public=True)

    bodies = [m.text for m in OutboundEmail.objects.filter(to=["carol@acme.test"])]
    assert "[public answer]" in bodies
    assert not any("secret note" in b for b in bodies)


def test_inactive_flow_does_nothing(admin, contact, template):
    f = flow(
        "case_created",
        actions=[{"kind": "send_email", "template": template, "recipient": "contact"}],
    )
    Flow.objects.filter(pk=f.pk).update(active=False)

    case_services.case_create(actor=admin, subject="S", contact=contact)

    assert not mails_of(f).exists()
