"""Real-world-shaped messages: each is applied, or kept as failed/ignored with a reason."""

import pytest

from cases.intake.models import InboundEmail
from cases.intake.services import inbound_receive
from cases.models import Case
from notifications.models import OutboundEmail
from tests.intake.conftest import CORPUS, corpus

pytestmark = pytest.mark.django_db


def receive(name: str) -> InboundEmail:
    return inbound_receive(raw=corpus(name), source=InboundEmail.Source.COMMAND)


def test_multipart_alternative_prefers_the_text_part(queue):
    row = receive("multipart_alternative.eml")

    assert row.status == InboundEmail.Status.APPLIED, row.reason
    assert row.case.origin == Case.Origin.EMAIL
    assert row.case.queue == queue
    assert row.case.subject == "Printer on fire"
    assert row.case.description == "The printer on floor 3 is on fire."
    assert row.case.contact.email == "carol@acme.test"
    assert row.case.contact.first_name == "Carol"


def test_quoted_printable_utf8_subject_and_body(queue):
    row = receive("quoted_printable.eml")

    assert row.status == InboundEmail.Status.APPLIED, row.reason
    assert row.case.subject == "Drucker kaputt \u2013 bitte helfen"
    assert "Grüße aus Köln" in row.case.description
    assert "länger als sechsundsiebzig Zeichen ist." in row.case.description


def test_iso_8859_1_message(queue):
    row = receive("iso_8859_1.eml")

    assert row.status == InboundEmail.Status.APPLIED, row.reason
    assert row.case.subject == "Problème de facturation"
    assert "erronée" in row.case.description
    assert row.case.contact.first_name == "François"


def test_shift_jis_message(queue):
    row = receive("shift_jis.eml")

    assert row.status == InboundEmail.Status.APPLIED, row.reason
    assert row.case.subject == "印刷できません"
    assert "プリンターが動きません" in row.case.description


def test_folded_headers_and_folded_message_id_are_normalised(queue):
    row = receive("folded_headers.eml")

    assert row.status == InboundEmail.Status.APPLIED, row.reason
    assert row.message_id == (
        "<very-long-message-id-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789@mail.acme.test>"
    )
    assert row.case.subject == (
        "A subject that is long enough that the sending client decided to fold it over two lines"
    )


def test_attachment_over_the_limit_is_left_out_with_a_note(queue):
    row = receive("huge_attachment.eml")

    assert row.status == InboundEmail.Status.APPLIED, row.reason
    names = list(row.case.attachments.values_list("original_name", flat=True))
    assert names == ["small.txt"]
    assert "huge.log" in row.case.description
    assert "was not kept" in row.case.description
    # The audit copy is capped; the full size is recorded.
    assert row.raw_truncated
    assert len(bytes(row.raw)) == 64 * 1024
    assert row.raw_size == len(corpus("huge_attachment.eml"))


@pytest.mark.parametrize("name", ["auto_reply.eml", "bounce.eml", "bulk.eml"])
def test_automatic_mail_creates_no_case_and_no_acknowledgement(queue, name):
    row = receive(name)

    assert row.status == InboundEmail.Status.IGNORED
    assert row.reason
    assert row.case is None
    assert not Case.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_malformed_mime_is_applied_or_kept_with_a_reason(queue):
    row = receive("malformed_mime.eml")

    assert row.status in (InboundEmail.Status.APPLIED, InboundEmail.Status.FAILED)
    if row.status == InboundEmail.Status.FAILED:
        assert row.reason
    else:
        assert row.case.subject == "Broken MIME"


def test_message_without_sender_is_kept_as_failed_with_the_reason(queue):
    row = receive("no_sender.eml")

    assert row.status == InboundEmail.Status.FAILED
    assert "From" in row.reason
    assert bytes(row.raw) == corpus("no_sender.eml")


def test_every_corpus_message_ends_in_the_ledger(queue):
    names = sorted(p.name for p in CORPUS.glob("*.eml"))
    for name in names:
        receive(name)

    rows = InboundEmail.objects.all()
    assert rows.count() == len(names)
    assert not rows.filter(status=InboundEmail.Status.RECEIVED).exists()
    for row in rows.exclude(status=InboundEmail.Status.APPLIED):
        assert row.reason, row


def test_acknowledgement_goes_to_the_sender_of_a_new_case(queue):
    row = receive("multipart_alternative.eml")

    ack = OutboundEmail.objects.get(case=row.case)
    assert ack.to == ["carol@acme.test"]
    assert row.case.number in ack.subject
