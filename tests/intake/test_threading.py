"""Threading and spoofing: only a signed address, our Message-IDs, or the contact's own
subject line attach mail to an existing case."""

from email.message import EmailMessage

import pytest

from cases import services as case_services
from cases.intake.models import InboundEmail
from cases.intake.services import inbound_receive
from cases.models import Case, CaseComment
from lib import reply_address
from notifications.models import OutboundEmail
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def message(
    *,
    sender,
    to="support@casedesk.test",
    subject="Hello",
    body="Text",
    msg_id,
    in_reply_to=None,
    references=None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = msg_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    msg.set_content(body)
    return msg.as_bytes()


@pytest.fixture
def contact(customer_account):
    return ContactFactory(email="carol@acme.test", account=customer_account)


@pytest.fixture
def case(queue, contact, agent):
    return case_services.case_create(
        actor=agent, subject="Printer on fire", contact=contact, queue=queue, owner=agent
    )


def receive(raw: bytes) -> InboundEmail:
    return inbound_receive(raw=raw, source=InboundEmail.Source.HTTP)


def test_reply_to_the_signed_reply_address_threads(case, contact):
    raw = message(
        sender=contact.email,
        to=reply_address.make(case.number),
        subject="Re: x",
        body="Here is more detail.",
        msg_id="<r1@acme.test>",
    )

    row = receive(raw)

    assert row.status == InboundEmail.Status.APPLIED, row.reason
    assert row.case == case
    comment = row.comment
    assert comment.body == "Here is more detail."
    assert comment.channel == CaseComment.Channel.EMAIL
    assert comment.author_contact == contact
    assert comment.is_public
    assert Case.objects.count() == 1


def test_reply_threads_through_in_reply_to_of_our_message(case, contact):
    ack = OutboundEmail.objects.get(case=case)
    raw = message(
        sender=contact.email,
        subject="Re: something else",
        msg_id="<r2@acme.test>",
        in_reply_to=ack.message_id,
        references=ack.headers["References"],
    )

    row = receive(raw)

    assert row.case == case
    assert not row.created_case


def test_customer_reply_moves_waiting_case_back_to_in_progress(case, contact, agent):
    case_services.case_change_status(actor=agent, case=case, status=Case.Status.WAITING_ON_CUSTOMER)
    raw = message(sender=contact.email, to=reply_address.make(case.number), msg_id="<r3@acme.test>")

    receive(raw)

    case.refresh_from_db()
    assert case.status == Case.Status.IN_PROGRESS


def test_contact_with_case_number_in_subject_threads(case, contact):
    raw = message(
        sender=contact.email, subject=f"Re: [Case {case.number}] Printer", msg_id="<r4@acme.test>"
    )

    row = receive(raw)

    assert row.case == case


def test_stranger_with_another_cases_number_in_subject_opens_a_new_case(case, other_customer):
    raw = message(
        sender="someone@globex.test",
        subject=f"Re: [Case {case.number}] Printer",
        body="Let me in",
        msg_id="<evil1@globex.test>",
    )

    row = receive(raw)

    assert row.status == InboundEmail.Status.APPLIED
    assert row.created_case
    assert row.case != case
    assert not case.comments.exists()


def test_forged_reply_address_fails_its_signature_and_does_not_thread(case):
    forged = f"support+c{case.number}.0123456789abcdef@casedesk.test"
    assert reply_address.verify(forged) is None
    raw = message(sender="mallory@evil.test", to=forged, msg_id="<evil2@evil.test>")

    row = receive(raw)

    assert row.case != case
    assert row.created_case
    assert not case.comments.exists()


def test_forged_thread_message_id_does_not_thread(case):
    raw = message(
        sender="mallory@evil.test",
        msg_id="<evil3@evil.test>",
        in_reply_to=f"<case.{case.number}.00000000deadbeef@casedesk.test>",
    )

    row = receive(raw)

    assert row.case != case


def test_same_message_twice_adds_one_comment(case, contact):
    raw = message(
        sender=contact.email, to=reply_address.make(case.number), msg_id="<twice@acme.test>"
    )

    first = receive(raw)
    second = receive(raw)

    assert first.pk == second.pk
    assert case.comments.count() == 1
    assert InboundEmail.objects.count() == 1


def test_quoted_history_is_trimmed(case, contact):
    body = (
        "Works now, thanks.\n\nOn Thu, Dec 3, 2026 at 10:00 AM Support "
        "<support@casedesk.test> wrote:\n> We replaced the toner.\n"
    )
    raw = message(
        sender=contact.email,
        to=reply_address.make(case.number),
        body=body,
        msg_id="<quoted@acme.test>",
    )

    row = receive(raw)

    assert row.comment.body == "Works now, thanks."


def test_unknown_sender_from_an_account_domain_becomes_its_contact(queue, customer_account):
    customer_account.domains.create(domain="acme.test")
    raw = message(sender="Newbie Person <newbie@acme.test>", msg_id="<new@acme.test>")

    row = receive(raw)

    assert row.case.contact.account == customer_account
    assert row.case.account == customer_account


def test_queue_rejecting_unknown_senders_ignores_them(queue):
    from cases.intake.models import QueueIntakeSettings

    QueueIntakeSettings.objects.create(queue=queue, reject_unknown_senders=True)
    row = receive(message(sender="stranger@nowhere.test", msg_id="<rej@nowhere.test>"))

    assert row.status == InboundEmail.Status.IGNORED
    assert "rejects" in row.reason
    assert not Case.objects.exists()


def test_per_sender_rate_limit(queue, settings):
    settings.INBOUND_SENDER_LIMIT_PER_HOUR = 3
    rows = [
        receive(message(sender="flood@acme.test", msg_id=f"<flood{i}@acme.test>")) for i in range(5)
    ]

    assert [r.status for r in rows].count(InboundEmail.Status.APPLIED) == 3
    assert rows[-1].status == InboundEmail.Status.IGNORED
    assert "Rate limit" in rows[-1].reason


def test_mail_from_our_own_address_is_a_loop_and_ignored(queue):
    row = receive(message(sender="support@casedesk.test", msg_id="<loop@casedesk.test>"))

    assert row.status == InboundEmail.Status.IGNORED
    assert "loop" in row.reason
