"""Invitations, self-registration and the portal's allauth pages."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import invitations
from accounts.models import Contact, PortalInvitation, User
from notifications.models import OutboundEmail
from portal.models import PortalSettings
from tests.factories import PASSWORD, AccountDomainFactory, ContactFactory

NEW_PASSWORD = "blue-harbour-kettle-42"


@pytest.fixture
def invitee(customer_account):
    return ContactFactory(email="newbie@acme.test", first_name="Nina", account=customer_account)


def _link_in_outbox(contact) -> str:
    row = OutboundEmail.objects.filter(to=[contact.email]).order_by("-created_at", "-id").first()
    match = re.search(r"https?://\S+/portal/invitations/[\w-]+/", row.text)
    assert match, row.text
    return match.group(0).split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def _invite(client, agent, contact):
    client.force_login(agent)
    response = client.post(reverse("portal:invitation-send", args=[contact.pk]))
    client.logout()
    return response


def test_agent_invites_contact_and_link_sets_password_and_signs_in(client, agent, invitee):
    response = _invite(client, agent, invitee)
    assert response.status_code == 302
    invitation = PortalInvitation.objects.get(contact=invitee)
    assert invitation.current_state == "pending"
    assert invitation.expires_at - invitation.created_at == timedelta(hours=72)
    path = _link_in_outbox(invitee)
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert token not in invitation.token_hash  # only the hash is stored
    assert client.get(path).status_code == 200
    done = client.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == reverse("portal:home")
    invitee.refresh_from_db()
    assert invitee.user.check_password(NEW_PASSWORD)
    assert not invitee.user.is_staff
    assert client.get(reverse("portal:home")).status_code == 200
    invitation.refresh_from_db()
    assert invitation.state == "accepted"


def test_invitation_link_works_once(client, agent, invitee):
    _invite(client, agent, invitee)
    path = _link_in_outbox(invitee)
    client.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    client.logout()
    again = client.post(path, {"password1": "other-pass-77-x", "password2": "other-pass-77-x"})
    assert again.status_code == 404
    invitee.refresh_from_db()
    assert invitee.user.check_password(NEW_PASSWORD)


def test_invitation_expires_after_72_hours(client, agent, invitee):
    _invite(client, agent, invitee)
    PortalInvitation.objects.filter(contact=invitee).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(_link_in_outbox(invitee))
    assert response.status_code == 404
    assert b"no longer valid" in response.content
    assert PortalInvitation.objects.get(contact=invitee).current_state == "expired"


def test_resend_replaces_the_link_and_revoke_kills_it(client, agent, invitee):
    _invite(client, agent, invitee)
    first = _link_in_outbox(invitee)
    _invite(client, agent, invitee)
    second = _link_in_outbox(invitee)
    assert first != second
    assert PortalInvitation.objects.filter(contact=invitee).count() == 1
    assert PortalInvitation.objects.get(contact=invitee).sent_count == 2
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    client.force_login(agent)
    client.post(reverse("portal:invitation-revoke", args=[invitee.pk]))
    client.logout()
    assert client.get(second).status_code == 404
    assert PortalInvitation.objects.get(contact=invitee).state == "revoked"


def test_weak_password_is_refused_with_reason(client, agent, invitee):
    _invite(client, agent, invitee)
    path = _link_in_outbox(invitee)
    response = client.post(path, {"password1": "12345678", "password2": "12345678"})
    assert response.status_code == 400
    assert b"too common" in response.content
    assert PortalInvitation.objects.get(contact=invitee).state == "pending"


def test_only_agents_may_invite(client, customer, invitee):
    client.force_login(customer)
    response = client.post(reverse("portal:invitation-send", args=[invitee.pk]))
    assert response.status_code == 403
    assert not PortalInvitation.objects.exists()


def test_contact_with_a_login_is_not_invited_again(client, agent, customer):
    client.force_login(agent)
    client.post(reverse("portal:invitation-send", args=[customer.contact.pk]), follow=True)
    assert not PortalInvitation.objects.exists()


def test_invitation_never_takes_over_an_agents_login(client, agent, other_agent, customer_account):
    contact = ContactFactory(email=other_agent.email, account=customer_account)
    invitations.invitation_send(actor=agent, contact=contact)
    response = client.post(
        _link_in_outbox(contact), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert b"already signs in elsewhere" in response.content
    other_agent.refresh_from_db()
    assert not other_agent.check_password(NEW_PASSWORD)
    assert PortalInvitation.objects.get(contact=contact).state == "pending"


def test_desk_include_shows_invitation_state(agent, invitee):
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    request = RequestFactory().get("/desk/")
    request.user = agent
    html = render_to_string("portal/_contact_invitation.html", {"contact": invitee}, request)
    assert "No portal access yet" in html
    invitations.invitation_send(actor=agent, contact=invitee)
    html = render_to_string("portal/_contact_invitation.html", {"contact": invitee}, request)
    assert "Pending" in html
    assert "Resend invitation" in html
    assert "Revoke invitation" in html


# -- sign-in pages ----------------------------------------------------------------------------


def test_portal_sign_in_page_is_portal_styled_and_signs_in(client, customer):
    page = client.get(reverse("portal:login"))
    assert b"portal/portal.css" in page.content
    response = client.post(reverse("portal:login"), {"login": customer.email, "password": PASSWORD})
    assert response["Location"] == "/portal/"


def test_sign_out_returns_to_portal_sign_in(customer_client):
    response = customer_client.post(reverse("portal:logout"), {"next": reverse("portal:login")})
    assert response["Location"] == reverse("portal:login")
    assert customer_client.get(reverse("portal:home")).status_code == 302


def test_password_reset_mail_links_to_portal_page(client, customer):
    response = client.post(reverse("portal:password-reset"), {"email": customer.email})
    assert response["Location"] == reverse("portal:password-reset-done")
    body = mail.outbox[-1].body
    link = re.search(r"http://\S+/portal/password/reset/key/\S+/", body).group(0)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    step = client.get(path)
    assert step.status_code == 302  # allauth moves the key into the session
    form = client.get(step["Location"])
    assert b"Choose a new password" in form.content
    done = client.post(step["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)


# -- self-registration ---------------------------------------------------------------------------


def _open_registration():
    PortalSettings.objects.update_or_create(pk=1, defaults={"self_registration": True})
    PortalSettings.forget()


def _register_link(client, email) -> str:
    response = client.post(reverse("portal:register"), {"email": email})
    assert response.status_code == 200
    assert b"Check your email" in response.content
    row = OutboundEmail.objects.filter(to=[email.lower()]).latest("id")
    link = re.search(r"http://\S+/portal/register/\S+/", row.text).group(0)
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def test_registration_is_off_by_default(client, db):
    assert client.get(reverse("portal:register")).status_code == 404


def test_registration_by_account_domain_creates_contact(client, customer_account):
    _open_registration()
    AccountDomainFactory(account=customer_account, domain="acme.test")
    path = _register_link(client, "Fresh@Acme.test")
    response = client.post(
        path,
        {
            "first_name": "Fred",
            "last_name": "Fresh",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get(email="fresh@acme.test")
    assert contact.account == customer_account
    assert contact.user.check_password(NEW_PASSWORD)
    assert client.get(reverse("portal:home")).status_code == 200


def test_registration_matches_existing_contact(client, invitee):
    _open_registration()
    path = _register_link(client, invitee.email)
    client.post(
        path,
        {
            "first_name": "Nina",
            "last_name": "N",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    invitee.refresh_from_db()
    assert invitee.user is not None


def test_registration_with_unknown_email_says_so_plainly(client, db):
    _open_registration()
    path = _register_link(client, "stranger@nowhere.test")
    page = client.get(path)
    assert page.status_code == 400
    assert b"could not match this email" in page.content
    client.post(
        path,
        {"first_name": "S", "last_name": "S", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert not User.objects.filter(email="stranger@nowhere.test").exists()


def test_registration_link_is_tamper_proof(client, db):
    _open_registration()
    path = _register_link(client, "x@nowhere.test")
    assert client.get(path[:-3] + "xx/").status_code == 404


# -- portal users stay out of the desk and admin -----------------------------------------------


def test_portal_user_is_sent_from_the_desk_to_the_portal(customer_client):
    response = customer_client.get("/desk/cases/new/")
    assert response.status_code == 302
    assert response["Location"] == "/portal/"


def test_portal_user_never_reaches_admin(customer_client):
    response = customer_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert customer_client.get("/admin/accounts/contact/").status_code == 302


def test_desk_contact_page_invites_to_portal(client, agent, invitee):
    client.force_login(agent)
    page = client.get(reverse("desk:contact-detail", args=[invitee.pk])).content.decode()
    assert "Portal access" in page
    assert reverse("portal:invitation-send", args=[invitee.pk]) in page
    response = client.post(reverse("portal:invitation-send", args=[invitee.pk]), follow=True)
    assert "Portal invitation sent to newbie@acme.test" in response.content.decode()
    assert "Resend invitation" in response.content.decode()


# -- email change with verification --------------------------------------------------------------


def _email_link(address: str) -> str:
    row = OutboundEmail.objects.filter(to=[address]).latest("id")
    return re.search(r"https?://[^/\s]+(/portal/profile/email/\S+/)", row.text).group(1)


def test_email_change_waits_for_the_new_address_to_confirm(customer_client, customer):
    response = customer_client.post(reverse("portal:email-change"), {"email": "New@Acme.test"})
    assert response.status_code == 302
    assert OutboundEmail.objects.filter(to=["customer@acme.test"]).exists()  # notice to old
    customer.refresh_from_db()
    assert customer.email == "customer@acme.test"
    path = _email_link("new@acme.test")
    assert b"new@acme.test" in customer_client.get(path).content  # GET changes nothing
    customer.refresh_from_db()
    assert customer.email == "customer@acme.test"
    customer_client.post(path)
    customer.refresh_from_db()
    assert customer.email == "new@acme.test"
    assert customer.contact.email == "new@acme.test"
    assert customer_client.post(path).status_code == 404  # used: the link is spent
    assert customer_client.get(path).status_code == 404


def test_email_change_refuses_an_address_in_use(customer_client, other_customer):
    response = customer_client.post(reverse("portal:email-change"), {"email": other_customer.email})
    assert response.status_code == 400
    assert b"already in use" in response.content


def test_email_change_link_only_works_for_its_own_login(client, customer, customer_manager):
    client.force_login(customer)
    client.post(reverse("portal:email-change"), {"email": "moved@acme.test"})
    path = _email_link("moved@acme.test")
    client.force_login(customer_manager)
    assert client.get(path).status_code == 404
    client.post(path)
    customer_manager.refresh_from_db()
    assert customer_manager.email == "manager@acme.test"


def test_new_email_signs_in_and_old_does_not(client, customer):
    client.force_login(customer)
    client.post(reverse("portal:email-change"), {"email": "moved@acme.test"})
    client.post(_email_link("moved@acme.test"))
    client.logout()
    old = client.post(
        reverse("portal:login"), {"login": "customer@acme.test", "password": PASSWORD}
    )
    assert old.status_code == 200
    new = client.post(reverse("portal:login"), {"login": "moved@acme.test", "password": PASSWORD})
    assert new["Location"] == "/portal/"


def test_admin_resends_and_revokes_invitations(client, admin, agent, invitee):
    invitations.invitation_send(actor=agent, contact=invitee)
    invitation = PortalInvitation.objects.get(contact=invitee)
    client.force_login(admin)
    listing = client.get("/admin/accounts/portalinvitation/")
    assert listing.status_code == 200
    assert b"Pending" in listing.content
    client.post(
        "/admin/accounts/portalinvitation/",
        {"action": "resend", "_selected_action": [invitation.pk]},
    )
    invitation.refresh_from_db()
    assert invitation.sent_count == 2
    client.post(
        "/admin/accounts/portalinvitation/",
        {"action": "revoke", "_selected_action": [invitation.pk]},
    )
    invitation.refresh_from_db()
    assert invitation.state == "revoked"


def test_password_change_in_portal_style(customer_client, customer):
    page = customer_client.get(reverse("portal:password-change"))
    assert b"portal/portal.css" in page.content
    response = customer_client.post(
        reverse("portal:password-change"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response["Location"] == reverse("portal:profile")
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)


def test_portal_profile_requiring_mfa_sends_customer_to_enrol(client, customer):
    from access.models import Profile
    from access.policy import bump_version

    Profile.objects.filter(key="customer_portal_user").update(mfa_required=True)
    bump_version()
    response = client.post(reverse("portal:login"), {"login": customer.email, "password": PASSWORD})
    assert response.status_code == 302
    home = client.get(reverse("portal:home"))
    assert home.status_code == 302
    assert home["Location"] == reverse("mfa_activate_totp")


def test_expiry_task_marks_stale_invitations(agent, invitee):
    from portal.tasks import portal_invitations_expire_task

    invitations.invitation_send(actor=agent, contact=invitee)
    assert portal_invitations_expire_task() == 0
    PortalInvitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert portal_invitations_expire_task() == 1
    assert PortalInvitation.objects.get().state == "expired"
    assert portal_invitations_expire_task() == 0
