"""The default flows end to end: a desk, portal or email action -> outbox -> SMTP sink."""

import pytest

from cases import services as case_services
from cases.models import Case
from lib import reply_address
from notifications.models import OutboundEmail
from tests.factories import ContactFactory

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("eager_celery"),
]


def norm(value) -> str:
    return "".join(str(value).split())


@pytest.fixture
def contact(customer_account):
    return ContactFactory(
        email="carol@acme.test", first_name="Carol", last_name="C", account=customer_account
    )


@pytest.fixture
def case(admin, agent, queue, contact, smtp_sink):
    case = case_services.case_create(
        actor=admin, subject="Printer on fire", contact=contact, queue=queue, owner=agent
    )
    smtp_sink.wait_for(1)
    return case


def by_recipient(sink, address):
    return [m for m in sink.parsed() if address in str(m["To"])]


def test_acknowledgement_to_the_contact_with_number_and_portal_link(case, smtp_sink, settings):
    [ack] = smtp_sink.wait_for(1)

    assert str(ack["To"]) == "carol@acme.test"
    assert case.number in ack["Subject"]
    text = ack.get_body(("plain",)).get_content()
    assert f"{settings.SITE_URL}/portal/cases/{case.number}/" in text
    assert "Hello Carol C" in text
    assert ack["Auto-Submitted"] == "auto-generated"
    assert reply_address.verify(str(ack["Reply-To"])) == case.number
    assert norm(ack["References"]) == reply_address.thread_root_id(case.number)


def test_agent_public_reply_reaches_the_contact_internal_note_does_not(case, admin, smtp_sink):
    case_services.comment_add(
        actor=admin, case=case, body="Internal: check the fuse", is_public=False
    )
    case_services.comment_add(actor=admin, case=case, body="We replaced the toner.", is_public=True)

    messages = smtp_sink.wait_for(2)
    assert len(messages) == 2
    reply = messages[1]
    assert str(reply["To"]) == "carol@acme.test"
    assert "We replaced the toner." in reply.get_body(("plain",)).get_content()
    assert all("check the fuse" not in m.as_string() for m in messages)
    # Every mail of the case threads under the same root.
    assert norm(reply["In-Reply-To"]) == norm(messages[0]["In-Reply-To"])


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (Case.Status.WAITING_ON_CUSTOMER, "waiting for your answer"),
        (Case.Status.RESOLVED, "has been resolved"),
    ],
)
def test_contact_told_of_waiting_and_resolved(case, admin, smtp_sink, status, words):
    case_services.case_change_status(actor=admin, case=case, status=status)

    messages = smtp_sink.wait_for(2)
    assert len(messages) == 2
    assert words in messages[1].get_body(("plain",)).get_content()
    assert str(messages[1]["To"]) == "carol@acme.test"


def test_other_status_changes_send_nothing(case, admin, smtp_sink):
    case_services.case_change_status(actor=admin, case=case, status=Case.Status.IN_PROGRESS)

    assert OutboundEmail.objects.count() == 1


def test_owner_told_of_a_customer_reply(case, contact, smtp_sink):
    case_services.comment_add(
        actor=None,
        case=case,
        body="Still broken!",
        is_public=True,
        channel="email",
        author_contact=contact,
    )

    messages = smtp_sink.wait_for(2)
    [to_owner] = by_recipient(smtp_sink, "agent@casedesk.test")
    assert "Still broken!" in to_owner.get_body(("plain",)).get_content()
    assert f"/desk/cases/{case.number}/" in to_owner.get_body(("plain",)).get_content()
    assert len(messages) == 2


def test_new_owner_told_of_assignment(case, admin, other_agent, smtp_sink):
    case_services.case_assign(actor=admin, case=case, owner=other_agent)

    smtp_sink.wait_for(2)
    [mail] = by_recipient(smtp_sink, "other.agent@casedesk.test")
    assert "Assigned to you" in mail["Subject"]


def test_agent_assigning_to_themselves_is_not_emailed(case, admin, smtp_sink):
    case_services.case_assign(actor=admin, case=case, owner=admin)

    assert OutboundEmail.objects.filter(to=["admin@casedesk.test"]).count() == 0


def test_template_error_never_breaks_the_change_and_is_recorded(admin, contact, smtp_sink):
    from notifications.models import EmailTemplate

    EmailTemplate.objects.filter(slug="case-acknowledgement").update(text_body="Hello {% if %}")

    case = case_services.case_create(actor=admin, subject="Still created", contact=contact)

    assert Case.objects.filter(pk=case.pk).exists()
    row = OutboundEmail.objects.get(case=case)
    assert row.status == OutboundEmail.Status.FAILED
    assert "case-acknowledgement" in row.last_error
    assert smtp_sink.messages == []


def test_template_cannot_reach_model_internals(admin, contact, smtp_sink):
    from notifications.models import EmailTemplate

    EmailTemplate.objects.filter(slug="case-acknowledgement").update(
        text_body="[{{ case.contact.user.password }}][{{ case.owner.password }}]"
        "[{{ recipient.email }}]"
    )

    case_services.case_create(actor=admin, subject="Probe", contact=contact)

    [mail] = smtp_sink.wait_for(1)
    assert mail.get_body(("plain",)).get_content().strip() == "[][][carol@acme.test]"
