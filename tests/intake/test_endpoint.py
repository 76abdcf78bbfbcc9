"""The signed HTTP endpoint and the stdin command."""

import io
import sys
import time

import pytest
from django.core.management import call_command

from cases.intake.models import InboundEmail
from cases.intake.views import sign
from cases.models import Case
from tests.intake.conftest import corpus

pytestmark = pytest.mark.django_db

URL = "/inbound/email/"


def post(client, body: bytes, *, timestamp=None, secret="test-inbound-secret", signature=None):  # noqa: S107
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = signature or sign(body, timestamp, secret)
    return client.post(
        URL,
        data=body,
        content_type="message/rfc822",
        HTTP_X_CASEDESK_TIMESTAMP=str(timestamp),
        HTTP_X_CASEDESK_SIGNATURE=signature,
    )


def test_good_signature_creates_a_case(client, queue):
    response = post(client, corpus("multipart_alternative.eml"))

    assert response.status_code == 202
    data = response.json()
    assert data["status"] == "applied"
    assert Case.objects.get(number=data["case"]).subject == "Printer on fire"


def test_bad_signature_is_refused_and_nothing_recorded(client, queue):
    response = post(client, corpus("multipart_alternative.eml"), secret="wrong-secret")

    assert response.status_code == 403
    assert response.json() == {"error": "bad signature"}
    assert not InboundEmail.objects.exists()


def test_body_changed_after_signing_is_refused(client, queue):
    body = corpus("multipart_alternative.eml")
    ts = int(time.time())
    response = post(
        client,
        body.replace(b"fire", b"ice"),
        timestamp=ts,
        signature=sign(body, ts, "test-inbound-secret"),
    )

    assert response.status_code == 403


def test_replayed_old_request_is_refused(client, queue):
    response = post(client, corpus("multipart_alternative.eml"), timestamp=int(time.time()) - 600)

    assert response.status_code == 403
    assert "window" in response.json()["error"]
    assert not Case.objects.exists()


def test_replay_within_the_window_changes_nothing(client, queue):
    body = corpus("multipart_alternative.eml")
    ts = int(time.time())
    first = post(client, body, timestamp=ts)
    second = post(client, body, timestamp=ts)

    assert first.json()["id"] == second.json()["id"]
    assert Case.objects.count() == 1


def test_missing_signature_is_refused(client, queue):
    response = client.post(URL, data=b"x", content_type="message/rfc822")

    assert response.status_code == 403


def test_unconfigured_secret_refuses_everything(client, queue, settings):
    settings.INBOUND_EMAIL_SECRET = ""

    response = post(client, corpus("multipart_alternative.eml"), secret="anything")

    assert response.status_code == 503


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_command_reads_one_message_from_stdin(queue, monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO(corpus("iso_8859_1.eml")))
    monkeypatch.setattr(sys, "stdin", stdin)
    out = io.StringIO()

    call_command("inbound_email", stdout=out)

    row = InboundEmail.objects.get()
    assert row.source == InboundEmail.Source.COMMAND
    assert out.getvalue().startswith(f"applied case {row.case.number}")


def test_message_larger_than_the_upload_memory_limit_is_accepted(client, queue, settings):
    settings.ATTACHMENT_MAX_BYTES = 8 * 1024 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "big@acme.test"
    msg["To"] = "support@casedesk.test"
    msg["Subject"] = "Big logs"
    msg["Message-ID"] = "<big@acme.test>"
    msg.set_content("Logs attached.")
    msg.add_attachment(
        b"x" * (2 * 1024 * 1024),
        maintype="application",
        subtype="octet-stream",
        filename="logs.bin",
    )
    body = msg.as_bytes()
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = post(client, body)

    assert response.status_code == 202, response.content
    case = Case.objects.get(number=response.json()["case"])
    assert case.attachments.get().size == 2 * 1024 * 1024


def test_message_over_the_intake_limit_is_refused(client, queue, settings):
    settings.INBOUND_MESSAGE_MAX_BYTES = 1000

    response = post(client, corpus("huge_attachment.eml"))

    assert response.status_code == 413
