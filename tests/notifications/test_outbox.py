import pytest
from django.db import transaction

from cases import services as case_services
from lib import reply_address
from notifications.models import OutboundEmail
from notifications.outbox import enqueue_email
from tests.factories import CaseFactory

# serialized_rollback: the flush after each test would drop the rows of data migrations
# (default flows, access profiles) that later tests need.
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("eager_celery"),
]


def test_enqueue_email_delivers_over_smtp_with_threading_headers(smtp_sink):
    case = CaseFactory()
    row = enqueue_email(
        key="t:1",
        to=["someone@example.test"],
        subject="Hello",
        text="Body text",
        html="<p>Body</p>",
        case=case,
    )

    [msg] = smtp_sink.wait_for(1)
    row.refresh_from_db()
    assert row.status == OutboundEmail.Status.SENT
    # Long Message-IDs arrive folded: normalise before comparing.
    assert "".join(msg["Message-ID"].split()) == row.message_id
    root = reply_address.thread_root_id(case.number)
    assert "".join(msg["In-Reply-To"].split()) == root
    assert "".join(msg["References"].split()) == root
    assert msg["Auto-Submitted"] == "auto-generated"
    assert reply_address.verify(msg["Reply-To"]) == case.number
    assert msg.get_body(("plain",)).get_content().strip() == "Body text"
    assert "<p>Body</p>" in msg.get_body(("html",)).get_content()


def test_same_key_twice_writes_one_row_and_sends_once(smtp_sink):
    first = enqueue_email(key="t:dup", to=["a@example.test"], subject="S", text="x")
    second = enqueue_email(key="t:dup", to=["b@example.test"], subject="Other", text="y")

    assert first.pk == second.pk
    assert OutboundEmail.objects.filter(key="t:dup").count() == 1
    assert len(smtp_sink.wait_for(1)) == 1
    assert smtp_sink.envelopes[0][1] == ["a@example.test"]


def test_rollback_sends_nothing(smtp_sink):
    def change() -> None:
        with transaction.atomic():
            enqueue_email(key="t:rb", to=["a@example.test"], subject="S", text="x")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change()

    assert not OutboundEmail.objects.filter(key="t:rb").exists()
    assert smtp_sink.messages == []


def test_flow_rows_roll_back_with_the_case_change(smtp_sink, admin):
    case = CaseFactory()

    def change() -> None:
        with transaction.atomic():
            case_services.comment_add(actor=admin, case=case, body="Fixed it", is_public=True)
            assert OutboundEmail.objects.filter(case=case).exists()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        change()

    assert not OutboundEmail.objects.filter(case=case).exists()
    assert smtp_sink.messages == []


def test_rows_of_one_transaction_go_out_as_one_task(smtp_sink, monkeypatch):
    from notifications import tasks

    batches = []
    real = tasks.deliver_emails_task.delay
    monkeypatch.setattr(
        tasks.deliver_emails_task, "delay", lambda ids: batches.append(list(ids)) or real(ids)
    )
    with transaction.atomic():
        rows = [
            enqueue_email(key=f"t:batch{i}", to=[f"u{i}@example.test"], subject="S", text="x")
            for i in range(3)
        ]

    assert batches == [[r.pk for r in rows]]
    assert len(smtp_sink.wait_for(3)) == 3
    assert OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT).count() == 3


def test_a_rolled_back_savepoint_sends_nothing_and_the_rest_still_goes(smtp_sink):
    def undone_change() -> None:
        with transaction.atomic():
            enqueue_email(key="t:undone", to=["b@example.test"], subject="Undone", text="x")
            raise RuntimeError("the inner change failed")

    with transaction.atomic():
        kept = enqueue_email(key="t:kept", to=["a@example.test"], subject="Kept", text="x")
        with pytest.raises(RuntimeError):
            undone_change()
        after = enqueue_email(key="t:after", to=["c@example.test"], subject="After", text="x")

    messages = smtp_sink.wait_for(2)
    assert sorted(m["Subject"] for m in messages) == ["After", "Kept"]
    assert len(smtp_sink.messages) == 2  # eager: everything was sent at the commit
    assert not OutboundEmail.objects.filter(key="t:undone").exists()
    kept.refresh_from_db()
    after.refresh_from_db()
    assert kept.status == after.status == OutboundEmail.Status.SENT
