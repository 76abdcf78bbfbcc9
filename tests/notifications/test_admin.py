"""Admin screens: the flow dry run, the template preview with errors, retries."""

import pytest
from django.urls import reverse

from cases import services as case_services
from cases.intake.models import InboundEmail
from cases.intake.services import inbound_receive
from notifications.models import EmailTemplate, OutboundEmail
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(admin, agent, queue):
    contact = ContactFactory(email="carol@acme.test", first_name="Carol", last_name="C")
    return case_services.case_create(
        actor=admin, subject="Printer on fire", contact=contact, queue=queue, owner=agent
    )


def test_dry_run_shows_matching_flows_and_exact_emails(client, admin, case):
    client.force_login(admin)
    url = reverse("admin:notifications_flow_dry_run")

    response = client.get(
        url,
        {
            "case_number": case.number,
            "trigger": "status_changed",
            "new_status": "waiting_on_customer",
        },
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Tell the contact we wait on them: matches" in body
    assert "Tell the contact the case is resolved: does not match" in body
    assert "carol@acme.test" in body
    assert f"[Case {case.number}] We need your reply" in body
    # A dry run writes nothing.
    assert OutboundEmail.objects.filter(case=case).count() == 1


def test_dry_run_shows_a_template_error(client, admin, case):
    EmailTemplate.objects.filter(slug="owner-assigned").update(subject="{{ case.number|nofilter }}")
    client.force_login(admin)

    response = client.get(
        reverse("admin:notifications_flow_dry_run"),
        {"case_number": case.number, "trigger": "assigned"},
    )

    assert "Template error" in response.content.decode()
    assert "nofilter" in response.content.decode()


def test_flow_changelist_links_to_the_dry_run(client, admin):
    client.force_login(admin)

    response = client.get(reverse("admin:notifications_flow_changelist"))

    assert reverse("admin:notifications_flow_dry_run") in response.content.decode()


def test_dry_run_needs_staff(client, customer):
    client.force_login(customer)

    response = client.get(reverse("admin:notifications_flow_dry_run"))

    assert response.status_code == 302


def test_template_preview_renders_for_a_case_and_shows_errors(client, admin, case):
    template = EmailTemplate.objects.get(slug="case-acknowledgement")
    client.force_login(admin)
    url = reverse("admin:notifications_emailtemplate_change", args=[template.pk])

    ok = client.get(url, {"case": case.number}).content.decode()
    template.text_body = "{% for %}"
    template.save()
    broken = client.get(url).content.decode()

    assert f"Your case number is {case.number}" in ok
    assert "This template does not render" in broken


def test_outbox_admin_retry_action_requeues_failed_rows(client, admin, case):
    row = OutboundEmail.objects.get(case=case)
    OutboundEmail.objects.filter(pk=row.pk).update(
        status=OutboundEmail.Status.FAILED, last_error="550 nope"
    )
    client.force_login(admin)

    response = client.post(
        reverse("admin:notifications_outboundemail_changelist"),
        {"action": "retry", "_selected_action": [row.pk]},
    )

    row.refresh_from_db()
    assert response.status_code == 302
    assert row.status == OutboundEmail.Status.QUEUED


def test_inbound_admin_lists_and_retries_failed_messages(client, admin, queue, settings):
    raw = b"To: support@casedesk.test\r\nSubject: no from\r\nMessage-ID: <x1@t>\r\n\r\nHi\r\n"
    row = inbound_receive(raw=raw, source=InboundEmail.Source.COMMAND)
    assert row.status == InboundEmail.Status.FAILED
    client.force_login(admin)

    listing = client.get(reverse("admin:cases_inboundemail_changelist")).content.decode()
    detail = client.get(reverse("admin:cases_inboundemail_change", args=[row.pk]))
    client.post(
        reverse("admin:cases_inboundemail_changelist"),
        {"action": "retry", "_selected_action": [row.pk]},
    )

    assert "No usable From address" in listing
    assert "Subject: no from" in detail.content.decode()
    row.refresh_from_db()
    assert row.status == InboundEmail.Status.FAILED
    assert row.attempts == 2


def test_template_saved_in_the_admin_takes_effect_at_once(client, admin, case, agent):
    template = EmailTemplate.objects.get(slug="case-agent-reply")
    case_services.comment_add(actor=admin, case=case, body="First reply", is_public=True)
    client.force_login(admin)

    response = client.post(
        reverse("admin:notifications_emailtemplate_change", args=[template.pk]),
        {
            "name": template.name,
            "slug": template.slug,
            "language": "en",
            "subject": "NEW SUBJECT {{ case.number }}",
            "text_body": "{{ comment.body }}",
            "html_body": "",
        },
    )
    case_services.comment_add(actor=admin, case=case, body="Second reply", is_public=True)

    assert response.status_code == 302
    latest = OutboundEmail.objects.filter(case=case).order_by("-pk").first()
    assert latest.subject == f"NEW SUBJECT {case.number}"


def test_retry_skips_a_row_whose_template_did_not_render(client, admin, queue):
    EmailTemplate.objects.filter(slug="case-acknowledgement").update(text_body="{% if %}")
    contact = ContactFactory(email="dan@acme.test")
    case = case_services.case_create(actor=admin, subject="S", contact=contact)
    row = OutboundEmail.objects.get(case=case)
    client.force_login(admin)

    client.post(
        reverse("admin:notifications_outboundemail_changelist"),
        {"action": "retry", "_selected_action": [row.pk]},
    )

    row.refresh_from_db()
    assert row.status == OutboundEmail.Status.FAILED
    assert "case-acknowledgement" in row.last_error
