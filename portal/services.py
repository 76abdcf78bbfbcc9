"""The few writes that belong to the portal itself: the grace-window rule for replies on
closed cases, the customer's own profile, and self-registration. Everything else is a call
to ``cases.services`` so the portal adds no rule of its own about access.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from access import policy
from accounts.models import AccountDomain, Contact, User
from cases import services as case_services
from cases.models import Case, CaseComment
from lib import events
from lib.errors import DomainError

REGISTER_SALT = "portal.register"
REGISTER_MAX_AGE = 60 * 60 * 24


def _contact_of(actor: User) -> Contact:
    contact = policy.portal_contact(actor)
    if contact is None:
        raise PermissionDenied("This is for customers signed in to the portal.")
    return contact


def closed_since(case: Case):
    return case.closed_at or case.resolved_at


def can_reopen(case: Case, now=None) -> bool:
    """A resolved or closed case may be reopened by its customer within the grace window."""
    if case.is_open:
        return False
    since = closed_since(case)
    if since is None:
        return True
    now = now or timezone.now()
    return now - since <= timedelta(days=settings.PORTAL_REOPEN_GRACE_DAYS)


@transaction.atomic
def portal_reply(
    *, actor: User, case: Case, body: str, files: Sequence[IO[bytes]] = ()
) -> tuple[Case, bool]:
    """Add the customer's reply. Returns the case it landed on and whether that case is new.

    Open case: a public reply (comment_add moves Waiting on Customer back to In Progress).
    Closed within the grace window: the reply reopens it. Closed for longer: a new case,
    linked to the old one as its parent, so the old history stays as it was.
    """
    contact = _contact_of(actor)
    policy.check(actor, "read", "case", case)
    if case.is_open or can_reopen(case):
        case_services.comment_add(
            actor=actor,
            case=case,
            body=body,
            is_public=True,
            channel=CaseComment.Channel.PORTAL,
            files=files,
        )
        if not case.is_open:
            case = case_services.case_change_status(
                actor=actor, case=case, status=Case.Status.IN_PROGRESS
            )
        return case, False
    new_case = case_services.case_create(
        actor=actor,
        subject=f"Follow-up to #{case.number}: {case.subject}"[:255],
        description=body,
        contact=contact,
        origin=Case.Origin.PORTAL,
        type=case.type,
        parent=case,
    )
    for upload in files:
        case_services.attachment_add(actor=actor, case=new_case, upload=upload)
    return new_case, True


@transaction.atomic
def portal_case_reopen(*, actor: User, case: Case) -> Case:
    _contact_of(actor)
    if not can_reopen(case):
        raise DomainError(
            f"This case was closed more than {settings.PORTAL_REOPEN_GRACE_DAYS} days ago. "
            "Reply to open a follow-up case instead."
        )
    return case_services.case_change_status(actor=actor, case=case, status=Case.Status.IN_PROGRESS)


@transaction.atomic
def portal_case_close(*, actor: User, case: Case) -> Case:
    """The customer says "this is resolved": the case is closed."""
    _contact_of(actor)
    if not case.is_open:
        return case
    return case_services.case_change_status(actor=actor, case=case, status=Case.Status.CLOSED)


@transaction.atomic
def portal_profile_update(
    *, actor: User, first_name: str, last_name: str, phone: str, timezone: str, language: str
) -> Contact:
    contact = Contact.objects.select_for_update().get(pk=_contact_of(actor).pk)
    contact.first_name, contact.last_name = first_name.strip(), last_name.strip()
    contact.phone, contact.timezone, contact.language = phone.strip(), timezone, language
    contact.full_clean()
    contact.save()
    # The login mirrors the contact, so emails and the desk show the same name and zone.
    User.objects.filter(pk=actor.pk).update(name=contact.full_name, timezone=timezone)
    events.publish(
        "contact.updated",
        contact_id=contact.pk,
        actor_id=actor.pk,
        fields=["first_name", "last_name", "phone", "timezone", "language"],
    )
    return contact


# -- self-registration ------------------------------------------------------------------


def registration_request(*, email: str) -> None:
    """Mail a signed link to the address; the same answer whoever owns it (no enumeration)."""
    from notifications.outbox import enqueue_email
    from portal.models import PortalSettings

    email = email.strip().lower()
    token = signing.dumps(email, salt=REGISTER_SALT)
    conf = PortalSettings.load()
    context = {
        "link": settings.SITE_URL + reverse("portal:register-complete", args=[token]),
        "portal_name": conf.display_name,
    }
    enqueue_email(
        key=f"portal-register:{email}:{timezone.now():%Y%m%d%H%M}",
        to=[email],
        subject=f"Confirm your email for {conf.display_name}",
        text=render_to_string("portal/email/register.txt", context),
    )


def registration_email(token: str) -> str | None:
    try:
        return signing.loads(token, salt=REGISTER_SALT, max_age=REGISTER_MAX_AGE)
    except signing.BadSignature:
        return None


def registration_match(email: str) -> tuple[Contact | None, AccountDomain | None]:
    contact = Contact.objects.select_related("user").filter(email=email.lower()).first()
    if contact is not None:
        return contact, None
    domain = email.rsplit("@", 1)[-1].lower()
    return None, AccountDomain.objects.select_related("account").filter(domain=domain).first()


@transaction.atomic
def registration_complete(*, email: str, first_name: str, last_name: str, password: str) -> User:
    """Create the portal login of a verified email that we know (a Contact or a domain)."""
    contact, domain = registration_match(email)
    if contact is not None and contact.user_id:
        raise DomainError("This email already has an account. Sign in or reset your password.")
    if contact is None and domain is None:
        raise DomainError(
            "We could not match this email to any of our customers, so we cannot open an "
            "account for it. Please contact support."
        )
    if User.objects.filter(email__iexact=email).exists():
        raise DomainError("This email already has an account. Sign in or reset your password.")
    user = User(email=email.lower(), name=f"{first_name} {last_name}".strip())
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password1") from None
    user.set_password(password)
    user.save()
    if contact is None:
        contact = Contact.objects.create(
            account=domain.account,
            email=email,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            user=user,
        )
        events.publish("contact.created", contact_id=contact.pk, actor_id=None)
    else:
        contact.user = user
        contact.first_name = contact.first_name or first_name.strip()
        contact.last_name = contact.last_name or last_name.strip()
        contact.save(update_fields=["user", "first_name", "last_name", "updated_at"])
    events.publish("portal.registered", contact_id=contact.pk, user_id=user.pk)
    return user


# -- email change with verification -------------------------------------------------------------

EMAIL_CHANGE_SALT = "portal.email-change"
EMAIL_CHANGE_MAX_AGE = 60 * 60 * 24


def _email_taken(email: str, user: User) -> bool:
    return (
        User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists()
        or Contact.objects.filter(email__iexact=email).exclude(user=user).exists()
    )


def email_change_request(*, actor: User, new_email: str) -> None:
    """Mail a signed link to the new address; nothing changes until it is opened.

    The link names the old address too, so it stops working once the email has changed
    (single use) and after 24 hours. The old address gets a notice, so a hijacked
    session cannot move the account away silently.
    """
    from notifications.outbox import enqueue_email
    from portal.models import PortalSettings

    contact = _contact_of(actor)
    new_email = new_email.strip().lower()
    if new_email == actor.email.lower():
        raise DomainError("That is already your email address.", field="email")
    if _email_taken(new_email, actor):
        # Plain, and no worse than sign-up: the page is behind sign-in.
        raise DomainError("That email address is already in use.", field="email")
    token = signing.dumps(
        {"user": actor.pk, "old": actor.email.lower(), "new": new_email}, salt=EMAIL_CHANGE_SALT
    )
    name = PortalSettings.load().display_name
    link = settings.SITE_URL + reverse("portal:email-confirm", args=[token])
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    enqueue_email(
        key=f"portal-email-change:{actor.pk}:{new_email}:{stamp}",
        to=[new_email],
        subject=f"Confirm your new email for {name}",
        text=render_to_string(
            "portal/email/email_change.txt", {"link": link, "portal_name": name, "contact": contact}
        ),
    )
    enqueue_email(
        key=f"portal-email-change-notice:{actor.pk}:{stamp}",
        to=[actor.email],
        subject=f"Your email address on {name} is about to change",
        text=render_to_string(
            "portal/email/email_change_notice.txt",
            {"new_email": new_email, "portal_name": name, "contact": contact},
        ),
    )


def email_change_pending(token: str, actor: User) -> str | None:
    """The new address a link confirms for this user, or None if it is not (or no longer) valid."""
    try:
        data = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE)
    except signing.BadSignature:
        return None
    if data.get("user") != actor.pk or data.get("old") != actor.email.lower():
        return None
    return data.get("new")


@transaction.atomic
def email_change_confirm(*, actor: User, token: str) -> str:
    new_email = email_change_pending(token, actor)
    if new_email is None:
        raise DomainError("This link is no longer valid.")
    contact = Contact.objects.select_for_update().get(pk=_contact_of(actor).pk)
    if _email_taken(new_email, actor):
        raise DomainError("That email address is already in use.", field="email")
    old = actor.email
    User.objects.filter(pk=actor.pk).update(email=new_email)
    actor.email = new_email
    contact.email = new_email
    contact.save(update_fields=["email", "updated_at"])
    # allauth's own address book, if it has rows for this login, follows (verified: the link
    # proved the address).
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=actor).delete()
    EmailAddress.objects.create(user=actor, email=new_email, verified=True, primary=True)
    events.publish(
        "contact.email_changed", contact_id=contact.pk, user_id=actor.pk, old=old, new=new_email
    )
    return new_email
