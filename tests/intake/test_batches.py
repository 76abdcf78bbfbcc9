"""A poll's messages are applied together (one transaction, lookups made once), and a
batch that goes wrong anywhere is taken again one message at a time, losing nothing."""

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from cases import services as case_services
from cases.intake.lookups import Incoming, IntakeLookups
from cases.intake.models import InboundEmail
from cases.intake.parsing import parse
from cases.intake.services import inbound_receive_many
from cases.models import Case, CaseComment
from lib import reply_address
from notifications.models import OutboundEmail
from tests.intake.conftest import corpus
from tests.intake.test_threading import message
from tests.markers import requires_postgresql

pytestmark = pytest.mark.django_db

IMAP = InboundEmail.Source.IMAP


def receive_many(raws: list[bytes]) -> list[InboundEmail]:
    return inbound_receive_many(raws, source=IMAP)


def new_mail(i: int, *, sender: str | None = None, **kwargs) -> bytes:
    return message(
        sender=sender or f"person{i}@customer.test",
        subject=f"Problem {i}",
        body=f"Message {i}",
        msg_id=f"<batch-{i}@customer.test>",
        **kwargs,
    )


def test_a_batch_opens_one_case_per_message_with_consecutive_numbers(queue):
    rows = receive_many([new_mail(i) for i in range(5)])

    assert [r.status for r in rows] == [InboundEmail.Status.APPLIED] * 5
    assert all(r.pk and r.created_case for r in rows)
    numbers = [int(r.case.number) for r in rows]
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    assert [c.subject for c in Case.objects.order_by("number")] == [
        f"Problem {i}" for i in range(5)
    ]
    # Each one acknowledged through the default flow, in the same transaction.
    assert OutboundEmail.objects.filter(case__in=[r.case for r in rows]).count() == 5


def test_a_bad_message_costs_only_itself(queue, monkeypatch):
    real_create = case_services.case_create

    def create(**kwargs):
        if kwargs["subject"] == "Problem 2":
            raise RuntimeError("disk on fire")
        return real_create(**kwargs)

    monkeypatch.setattr(case_services, "case_create", create)
    raws = [new_mail(i) for i in range(4)]
    raws.insert(1, corpus("no_sender.eml"))  # does not parse

    rows = receive_many(raws)

    statuses = [r.status for r in rows]
    assert statuses[0] == statuses[2] == statuses[4] == InboundEmail.Status.APPLIED
    assert statuses[1] == InboundEmail.Status.FAILED
    assert "From" in rows[1].reason
    failed = rows[3]
    assert failed.status == InboundEmail.Status.FAILED
    assert "disk on fire" in failed.reason
    assert failed.case is None
    # Nothing is lost: every message has its ledger row, the failed one kept for retry.
    assert InboundEmail.objects.count() == 5
    assert Case.objects.filter(subject__startswith="Problem").count() == 3


def test_the_same_message_twice_in_a_batch_and_again_later_applies_once(queue):
    raw = new_mail(1)

    first = receive_many([raw, raw])
    again = receive_many([raw])

    assert first[0].pk == first[1].pk == again[0].pk
    assert Case.objects.count() == 1
    assert InboundEmail.objects.count() == 1


def test_later_messages_of_a_batch_see_what_earlier_ones_made(queue):
    opening = new_mail(1, sender="newcomer@customer.test")
    follow_up = message(
        sender="newcomer@customer.test",
        subject="Re: Problem 1",
        body="Forgot to say",
        msg_id="<batch-2@customer.test>",
        in_reply_to="<batch-1@customer.test>",
    )

    rows = receive_many([opening, follow_up])

    assert rows[0].created_case
    assert not rows[1].created_case
    assert rows[1].case == rows[0].case
    assert rows[1].comment.author_contact == rows[0].case.contact
    assert rows[0].case.contact.email == "newcomer@customer.test"


def test_replies_in_a_batch_thread_to_their_cases(queue):
    cases = [r.case for r in receive_many([new_mail(i) for i in range(3)])]
    replies = [
        new_mail(10 + i, sender=f"person{i}@customer.test", to=reply_address.make(c.number))
        for i, c in enumerate(cases)
    ]

    rows = receive_many(replies)

    assert [r.case for r in rows] == cases
    assert all(r.comment.channel == CaseComment.Channel.EMAIL for r in rows)


def test_the_rate_limit_counts_the_messages_of_the_batch(queue, settings):
    settings.INBOUND_SENDER_LIMIT_PER_HOUR = 2
    raws = [new_mail(i, sender="chatty@customer.test") for i in range(4)]

    rows = receive_many(raws)

    assert [r.status for r in rows] == [
        InboundEmail.Status.APPLIED,
        InboundEmail.Status.APPLIED,
        InboundEmail.Status.IGNORED,
        InboundEmail.Status.IGNORED,
    ]
    assert "Rate limit" in rows[2].reason


def test_lookups_cost_the_same_queries_for_one_message_or_fifty(queue):
    def lookup_queries(count: int) -> int:
        batch = [
            Incoming(f"<m{i}@x.test>", parse(new_mail(i, to=reply_address.make("00001234"))))
            for i in range(count)
        ]
        with CaptureQueriesContext(connection) as ctx:
            IntakeLookups.load(batch)
        return len(ctx.captured_queries)

    assert lookup_queries(1) == lookup_queries(50) <= 6


def test_numbers_are_reserved_only_outside_a_transaction(queue):
    # Inside a caller's transaction (this test's) the counter is used as usual.
    with case_services.reserved_case_numbers(3):
        a = case_services.case_create(actor=None, subject="A")
        b = case_services.case_create(actor=None, subject="B")
    assert int(b.number) == int(a.number) + 1


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_pollers_taking_the_same_mail_at_once_apply_each_message_once(queue):
    raws = [new_mail(i) for i in range(12)]
    start = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            start.wait()
            receive_many(raws)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=poll) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert InboundEmail.objects.count() == 12
    assert InboundEmail.objects.filter(status=InboundEmail.Status.APPLIED).count() == 12
    assert Case.objects.count() == 12
    assert OutboundEmail.objects.count() == 12
    numbers = list(Case.objects.values_list("number", flat=True))
    assert len(set(numbers)) == 12


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_reserved_numbers_do_not_hold_the_counter_lock(queue):
    """While a batch holds its transaction open, another creator still gets a number."""
    got: list[str] = []

    def other_creator() -> None:
        try:
            got.append(case_services.case_create(actor=None, subject="Desk case").number)
        finally:
            connections.close_all()

    from django.db import transaction

    with case_services.reserved_case_numbers(2), transaction.atomic():
        mine = case_services.case_create(actor=None, subject="Batch case")
        other = threading.Thread(target=other_creator)
        other.start()
        other.join(timeout=10)
        # Without the reservation the other creator would still be waiting for our lock.
        assert not other.is_alive()
    assert got
    assert got[0] != mine.number
