"""Portal pages through the test client: what customers see and may do."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import Attachment, Case, CaseComment, CaseSatisfaction
from tests.factories import CaseFactory
from tests.portal.conftest import upload


def _case_for(user, **kw):
    return services.case_create(
        actor=user,
        subject=kw.pop("subject", "Printer on fire"),
        description=kw.pop("description", "It smokes."),
        contact=user.contact,
        origin=Case.Origin.PORTAL,
        **kw,
    )


def test_home_lists_open_cases_and_highlights_waiting(customer_client, customer, agent):
    waiting = _case_for(customer, subject="Need your logs")
    services.case_change_status(actor=agent, case=waiting, status=Case.Status.WAITING_ON_CUSTOMER)
    _case_for(customer, subject="Still working")
    closed = _case_for(customer, subject="Old and done")
    services.case_change_status(actor=agent, case=closed, status=Case.Status.CLOSED)
    response = customer_client.get(reverse("portal:home"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Waiting on you" in body
    assert body.index("Need your logs") < body.index("Still working")
    assert "Old and done" not in body
    assert "New case" in body


def test_anonymous_is_sent_to_portal_sign_in(client):
    response = client.get(reverse("portal:case-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login") + "?next=/portal/cases/")


def test_agent_visiting_portal_goes_to_desk(client, agent):
    client.force_login(agent)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"] == "/desk/"


def test_filing_a_case_with_attachments_lands_on_it(customer_client, customer):
    response = customer_client.post(
        reverse("portal:case-create"),
        {
            "subject": "VPN drops",
            "description": "Every **hour**.",
            "files": [upload("a.png"), upload("notes.txt", b"hello log")],
        },
    )
    case = Case.objects.get(subject="VPN drops")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:case-detail", args=[case.number])
    assert case.origin == Case.Origin.PORTAL
    assert case.contact == customer.contact
    assert case.account == customer.contact.account
    assert sorted(case.attachments.values_list("original_name", flat=True)) == [
        "a.png",
        "notes.txt",
    ]
    page = customer_client.get(response["Location"]).content.decode()
    assert f"#{case.number}" in page
    assert "has been received" in page
    assert "<strong>hour</strong>" in page


def test_attachment_type_and_count_limits_are_clear(customer_client, settings):
    settings.PORTAL_MAX_FILES = 2
    response = customer_client.post(
        reverse("portal:case-create"),
        {
            "subject": "Bad files",
            "description": "x",
            "files": [
                upload("run.exe", b"MZ\x90\x00" + b"\x00" * 200),
                upload("b.png"),
                upload("c.png"),
            ],
        },
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Attach at most 2 files" in body
    assert "run.exe: files of this type" in body
    assert not Case.objects.filter(subject="Bad files").exists()


def test_oversized_attachment_is_refused(customer_client, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    response = customer_client.post(
        reverse("portal:case-create"),
        {"subject": "Big", "description": "x", "files": [upload("big.png")]},
    )
    assert response.status_code == 400
    assert "big.png is 0.0 MB; the limit is" in response.content.decode()
    assert not Case.objects.filter(subject="Big").exists()


def test_reply_on_waiting_case_moves_it_back_to_in_progress(customer_client, customer, agent):
    case = _case_for(customer)
    services.case_change_status(actor=agent, case=case, status=Case.Status.WAITING_ON_CUSTOMER)
    response = customer_client.post(
        reverse("portal:case-reply", args=[case.number]),
        {"body": "Here are the logs", "files": [upload("log.png")]},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Case.Status.IN_PROGRESS
    comment = case.comments.get()
    assert comment.is_public
    assert comment.author_contact == customer.contact
    assert comment.channel == CaseComment.Channel.PORTAL
    assert comment.attachments.get().original_name == "log.png"


def test_customer_closes_then_reopens_within_grace(customer_client, customer):
    case = _case_for(customer)
    customer_client.post(reverse("portal:case-close", args=[case.number]))
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED
    page = customer_client.get(reverse("portal:case-detail", args=[case.number])).content.decode()
    assert "Reopen this case" in page
    customer_client.post(reverse("portal:case-reopen", args=[case.number]))
    case.refresh_from_db()
    assert case.status == Case.Status.IN_PROGRESS


def test_reply_after_grace_window_opens_linked_case(customer_client, customer, settings):
    settings.PORTAL_REOPEN_GRACE_DAYS = 14
    case = _case_for(customer)
    services.case_change_status(actor=customer, case=case, status=Case.Status.CLOSED)
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - timezone.timedelta(days=15))
    reopen = customer_client.post(reverse("portal:case-reopen", args=[case.number]), follow=True)
    assert "more than 14 days ago" in reopen.content.decode()
    response = customer_client.post(
        reverse("portal:case-reply", args=[case.number]), {"body": "It broke again"}
    )
    follow_up = Case.objects.get(parent=case)
    assert response["Location"] == reverse("portal:case-detail", args=[follow_up.number])
    assert follow_up.description == "It broke again"
    assert follow_up.contact == customer.contact
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED
    assert not case.comments.exists()


def test_rating_after_resolution_once(customer_client, customer, agent):
    case = _case_for(customer)
    bad = customer_client.post(reverse("portal:case-rate", args=[case.number]), {"rating": "5"})
    assert bad.status_code == 400
    services.case_change_status(actor=agent, case=case, status=Case.Status.RESOLVED)
    ok = customer_client.post(
        reverse("portal:case-rate", args=[case.number]), {"rating": "4", "comment": "Quick, thanks"}
    )
    assert ok.status_code == 302
    rated = CaseSatisfaction.objects.get(case=case)
    assert (rated.rating, rated.comment, rated.contact) == (4, "Quick, thanks", customer.contact)
    again = customer_client.post(reverse("portal:case-rate", args=[case.number]), {"rating": "1"})
    assert again.status_code == 400
    assert CaseSatisfaction.objects.get(case=case).rating == 4
    assert case.events.filter(field="satisfaction", new_value="4/5").exists()


def test_manager_switches_between_mine_and_account(client, customer, customer_manager):
    colleague_case = _case_for(customer, subject="Colleague case")
    own = _case_for(customer_manager, subject="Manager own case")
    client.force_login(customer_manager)
    mine = client.get(reverse("portal:case-list")).content.decode()
    assert own.subject in mine
    assert colleague_case.subject not in mine
    everyone = client.get(reverse("portal:case-list") + "?scope=account").content.decode()
    assert own.subject in everyone
    assert colleague_case.subject in everyone
    assert "All of Acme Corp" in everyone
    detail = client.get(reverse("portal:case-detail", args=[colleague_case.number]))
    assert detail.status_code == 200


def test_plain_customer_cannot_widen_scope(customer_client, customer, customer_manager):
    managers = _case_for(customer_manager, subject="Manager only")
    page = customer_client.get(reverse("portal:case-list") + "?scope=account&state=all")
    assert "Manager only" not in page.content.decode()
    assert "All of Acme" not in page.content.decode()
    detail = customer_client.get(reverse("portal:case-detail", args=[managers.number]))
    assert detail.status_code == 404


def test_open_closed_filter_search_and_pagination(customer_client, customer, settings):
    settings.PORTAL_PAGE_SIZE = 2
    for i in range(3):
        _case_for(customer, subject=f"Open thing {i}")
    done = _case_for(customer, subject="Finished thing")
    services.case_change_status(actor=customer, case=done, status=Case.Status.CLOSED)
    url = reverse("portal:case-list")
    first = customer_client.get(url).content.decode()
    assert "Page 1 of 2" in first
    assert "Finished thing" not in first
    closed = customer_client.get(url + "?state=closed").content.decode()
    assert "Finished thing" in closed
    assert "Open thing" not in closed
    found = customer_client.get(url + "?state=all&q=finished").content.decode()
    assert "Finished thing" in found
    assert "Open thing" not in found
    by_number = customer_client.get(url + f"?state=all&q={done.number}").content.decode()
    assert "Finished thing" in by_number


def test_profile_updates_contact_and_shows_times_in_their_zone(customer_client, customer):
    response = customer_client.post(
        reverse("portal:profile"),
        {
            "first_name": "Cora",
            "last_name": "Customer",
            "phone": "+1 555 0100",
            "timezone": "Asia/Tokyo",
            "language": "",
        },
    )
    assert response.status_code == 302
    contact = customer.contact
    contact.refresh_from_db()
    customer.refresh_from_db()
    assert (contact.first_name, contact.phone, contact.timezone) == (
        "Cora",
        "+1 555 0100",
        "Asia/Tokyo",
    )
    assert customer.name == "Cora Customer"
    assert customer.timezone == "Asia/Tokyo"
    case = _case_for(customer)
    Case.objects.filter(pk=case.pk).update(
        created_at=timezone.datetime(2026, 1, 2, 23, 30, tzinfo=datetime.UTC)
    )
    page = customer_client.get(reverse("portal:case-detail", args=[case.number])).content.decode()
    assert "3 Jan 2026, 08:30 JST" in page


def test_agent_names_follow_portal_settings(customer_client, customer, agent):
    from portal.models import PortalSettings

    case = _case_for(customer)
    services.comment_add(actor=agent, case=case, body="On it", is_public=True)
    url = reverse("portal:case-detail", args=[case.number])
    assert "Alex Agent" in customer_client.get(url).content.decode()
    PortalSettings.objects.create(pk=1, agent_names="first")
    PortalSettings.forget()
    page = customer_client.get(url).content.decode()
    assert "<strong>Alex</strong>" in page
    assert "Alex Agent" not in page


def test_branding_from_portal_settings(customer_client):
    from portal.models import PortalSettings

    PortalSettings.objects.create(pk=1, name="Acme Help", accent_color="#ffcc00")
    PortalSettings.forget()
    page = customer_client.get(reverse("portal:home")).content.decode()
    assert "Acme Help" in page
    # A pale yellow would fail AA on white: the portal darkens it until it passes.
    assert "--accent: #ffcc00" not in page
    from portal.context import contrast, readable_on_white

    assert contrast(readable_on_white("#ffcc00"), "#ffffff") >= 4.5


@pytest.mark.parametrize("status", [Case.Status.RESOLVED, Case.Status.CLOSED])
def test_satisfaction_include_renders_for_desk(status, customer, agent):
    from django.template.loader import render_to_string

    from cases.satisfaction import case_rate

    case = CaseFactory(contact=customer.contact)
    services.case_change_status(actor=agent, case=case, status=status)
    assert "Not rated yet" in render_to_string("cases/_satisfaction.html", {"case": case})
    case_rate(actor=customer, case=case, rating=3, comment="<b>ok</b>")
    html = render_to_string("cases/_satisfaction.html", {"case": case})
    assert "3/5" in html
    assert "&lt;b&gt;ok&lt;/b&gt;" in html


def test_internal_notes_and_their_files_never_shown(customer_client, customer, agent):
    case = _case_for(customer)
    services.comment_add(
        actor=agent,
        case=case,
        body="SECRET-NOTE customer is grumpy",
        is_public=False,
        files=[upload("secret-note.png")],
    )
    services.comment_add(actor=agent, case=case, body="Public answer", is_public=True)
    page = customer_client.get(reverse("portal:case-detail", args=[case.number])).content.decode()
    assert "Public answer" in page
    assert "SECRET-NOTE" not in page
    assert "secret-note.png" not in page
    hidden = Attachment.objects.get(original_name="secret-note.png")
    download = customer_client.get(reverse("files:attachment", args=[hidden.pk, "x"]))
    assert download.status_code == 404


def test_profile_language_is_used_on_portal_pages(customer_client, customer):
    customer_client.post(
        reverse("portal:profile"),
        {
            "first_name": "Cora",
            "last_name": "C",
            "phone": "",
            "timezone": "Europe/Berlin",
            "language": "de",
        },
    )
    page = customer_client.get(reverse("portal:home")).content.decode()
    assert '<html lang="de">' in page
    # Django's own messages come in the contact's language.
    response = customer_client.post(reverse("portal:case-create"), {"subject": ""})
    assert "Dieses Feld ist zwingend erforderlich." in response.content.decode()


def test_profile_links_to_password_email_and_security_pages(customer_client):
    page = customer_client.get(reverse("portal:profile")).content.decode()
    assert reverse("portal:password-change") in page
    assert reverse("portal:email-change") in page
    assert reverse("mfa_index") in page
    assert reverse("access:sessions") in page


def test_logo_from_portal_settings_is_served_as_an_image_only(customer_client):
    from django.core.files.base import ContentFile

    from portal.models import PortalSettings
    from tests.portal.conftest import png_bytes

    conf = PortalSettings(pk=1, name="Acme Help")
    conf.logo.save("logo.png", ContentFile(png_bytes()), save=True)
    PortalSettings.forget()
    page = customer_client.get(reverse("portal:home")).content.decode()
    assert '<img src="/portal/logo/?v=' in page
    logo = customer_client.get(reverse("portal:logo"))
    assert logo["Content-Type"] == "image/png"
    assert logo["X-Content-Type-Options"] == "nosniff"
    conf.logo.save("logo.png", ContentFile(b"<svg onload=alert(1)></svg>"), save=True)
    PortalSettings.forget()
    assert customer_client.get(reverse("portal:logo")).status_code == 404
