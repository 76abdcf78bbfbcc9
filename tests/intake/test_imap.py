"""The IMAP poller against a real Dovecot on loopback (IMAPS)."""

import imaplib
import ssl
from email.message import EmailMessage

import pytest

from cases.intake.imap import poll_and_record, poll_mailbox
from cases.intake.models import ImapMailbox, InboundEmail
from cases.intake.tasks import imap_poll_all_task
from cases.models import Case
from tests.intake.conftest import corpus
from tests.intake.dovecot import PASSWORD, USER

pytestmark = pytest.mark.django_db


def mail(n: int, sender: str = "carol@acme.test") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@casedesk.test"
    msg["Subject"] = f"Problem number {n}"
    msg["Message-ID"] = f"<imap-{n}@acme.test>"
    msg.set_content(f"Body {n}")
    return msg.as_bytes()


@pytest.fixture
def mailbox(dovecot, queue):
    return ImapMailbox.objects.create(
        name="support",
        queue=queue,
        host="127.0.0.1",
        port=dovecot.port,
        username=USER,
        password=PASSWORD,
        security=ImapMailbox.Security.SSL,
    )


def server_flags(dovecot, folder="INBOX"):
    ctx = ssl.create_default_context(cafile=str(dovecot.ca_file))
    conn = imaplib.IMAP4_SSL("127.0.0.1", dovecot.port, ssl_context=ctx)
    conn.login(USER, PASSWORD)
    conn.select(f'"{folder}"', readonly=True)
    _, data = conn.uid("SEARCH", None, "ALL")
    uids = data[0].split()
    flags = {}
    for uid in uids:
        _, fetched = conn.uid("FETCH", uid, "(FLAGS)")
        flags[int(uid)] = fetched[0].decode()
    conn.logout()
    return flags


def test_poller_turns_new_mail_into_cases_and_flags_it(dovecot, mailbox, queue):
    for n in range(3):
        dovecot.deliver(mail(n))

    result = poll_mailbox(mailbox=mailbox)

    assert result.fetched == 3
    assert Case.objects.filter(queue=queue, origin=Case.Origin.EMAIL).count() == 3
    assert set(InboundEmail.objects.values_list("source", flat=True)) == {"imap"}
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 3
    assert mailbox.uidvalidity
    assert all("\\Seen" in f for f in server_flags(dovecot).values())


def test_next_poll_fetches_only_new_uids(dovecot, mailbox):
    dovecot.deliver(mail(1))
    poll_mailbox(mailbox=mailbox)
    dovecot.deliver(mail(2))

    second = poll_mailbox(mailbox=mailbox)
    third = poll_mailbox(mailbox=mailbox)

    assert second.fetched == 1
    assert third.fetched == 0
    assert Case.objects.count() == 2


def test_processed_mail_is_moved(dovecot, mailbox):
    mailbox.processed_folder = "Processed"
    mailbox.save()
    dovecot.deliver(mail(1))
    dovecot.deliver(mail(2))

    poll_mailbox(mailbox=mailbox)

    assert server_flags(dovecot, "INBOX") == {}
    assert len(server_flags(dovecot, "Processed")) == 2


def test_bad_mail_does_not_stop_the_poller(dovecot, mailbox):
    dovecot.deliver(corpus("no_sender.eml"))
    dovecot.deliver(corpus("auto_reply.eml"))
    dovecot.deliver(mail(7))

    result = poll_mailbox(mailbox=mailbox)

    assert result.statuses == ["failed", "ignored", "applied"]
    assert InboundEmail.objects.count() == 3
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 3


def test_uidvalidity_change_starts_over_without_double_apply(dovecot, mailbox):
    dovecot.deliver(mail(1))
    poll_mailbox(mailbox=mailbox)
    mailbox.uidvalidity = 1  # as if the server had rebuilt the folder
    mailbox.last_uid = 99
    mailbox.save()

    poll_mailbox(mailbox=mailbox)

    assert Case.objects.count() == 1
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 1


def test_wrong_password_is_recorded_on_the_mailbox(dovecot, mailbox):
    mailbox.password = "wrong"
    mailbox.save()

    result = poll_and_record(mailbox=mailbox)

    mailbox.refresh_from_db()
    assert result.error
    assert "AUTHENTICATIONFAILED" in mailbox.last_error or "failed" in mailbox.last_error


def test_untrusted_certificate_is_refused(dovecot, mailbox, settings):
    settings.IMAP_CA_FILE = ""

    result = poll_and_record(mailbox=mailbox)

    assert "CERTIFICATE_VERIFY_FAILED" in result.error


def test_beat_task_polls_every_active_mailbox(dovecot, mailbox, queue):
    from config.celery import app

    ImapMailbox.objects.create(
        name="inactive",
        queue=queue,
        host="127.0.0.1",
        port=1,
        username="x",
        password="x",
        active=False,
    )
    dovecot.deliver(mail(1))
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        polled = imap_poll_all_task.apply().get()
    finally:
        app.conf.task_always_eager = eager

    assert polled == 1
    assert Case.objects.count() == 1


def test_starttls_mailbox(dovecot, mailbox):
    mailbox.security = ImapMailbox.Security.STARTTLS
    mailbox.port = dovecot.starttls_port
    mailbox.save()
    dovecot.deliver(mail(1))

    result = poll_and_record(mailbox=mailbox)

    assert result.error == ""
    assert result.statuses == ["applied"]


def test_password_from_the_environment(dovecot, mailbox, monkeypatch):
    monkeypatch.setenv("CASEDESK_TEST_IMAP_PASSWORD", PASSWORD)
    mailbox.password = ""
    mailbox.password_env = "CASEDESK_TEST_IMAP_PASSWORD"
    mailbox.save()
    dovecot.deliver(mail(1))

    assert poll_and_record(mailbox=mailbox).statuses == ["applied"]
