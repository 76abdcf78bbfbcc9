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
