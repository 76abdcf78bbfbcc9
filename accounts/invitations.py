"""Portal invitations: an agent lets a Contact into the portal with a one-time link.

The link carries a random token; only its SHA-256 is stored. It expires after
``PORTAL_INVITATION_TTL_HOURS`` (72 h) and works once: accepting claims the row with a
conditional UPDATE, so two tabs racing on one link cannot both set a password.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from access import policy
from accounts.models import Contact, PortalInvitation, User
from lib import events
from lib.errors import DomainError

State = PortalInvitation.State


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, _hash(token)


def _check_agent(actor: User, contact: Contact) -> None:
    if not policy.is_agent(actor) or not policy.can(actor, "edit", "contact", contact):
        raise PermissionDenied("Only agents who may edit this contact can invite them.")


def invitation_link(token: str) -> str:
    return settings.SITE_URL + reverse("portal:invitation-accept", args=[token])


def _send(invitation: PortalInvitation, token: str) -> None:
    # Imported here: notifications depends on accounts, never the other way round at import.
    from notifications.outbox import enqueue_email

    contact = invitation.contact
    from portal.models import PortalSettings

    context = {
        "contact": contact,
        "link": invitation_link(token),
        "portal_name": PortalSettings.load().display_name,
        "hours": settings.PORTAL_INVITATION_TTL_HOURS,
    }
    enqueue_email(
        key=f"portal-invitation:{invitation.pk}:{invitation.sent_count}",
        to=[contact.email],
        subject=f"You're invited to {context['portal_name']}",
        text=render_to_string("portal/email/invitation.txt", context),
        html=render_to_string("portal/email/invitation.html", context),
    )


def invitation_for(contact: Contact) -> PortalInvitation | None:
    """The contact's latest invitation, if any (for the agent's view of its state)."""
    return contact.portal_invitations.order_by("-created_at", "-id").first()


@transaction.atomic
def invitation_send(*, actor: User, contact: Contact) -> PortalInvitation:
    """Invite a contact, or resend: a pending invitation gets a fresh token and expiry."""
    _check_agent(actor, contact)
    if contact.user_id and contact.user.has_usable_password() and contact.user.is_active:
        raise DomainError(f"{contact.email} already has portal access.")
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    now = timezone.now()
    expires = now + timedelta(hours=settings.PORTAL_INVITATION_TTL_HOURS)
    token, token_hash = _new_token()
    invitation = contact.portal_invitations.filter(state=State.PENDING).first()
    if invitation is None:
        invitation = PortalInvitation(contact=contact, invited_by=actor, created_at=now)
    invitation.token_hash = token_hash
    invitation.expires_at = expires
    invitation.sent_count += 1
    invitation.last_sent_at = now
    invitation.save()
    _send(invitation, token)
    events.publish(
        "portal.invitation_sent",
        invitation_id=invitation.pk,
        contact_id=contact.pk,
        actor_id=actor.pk,
        resend=invitation.sent_count > 1,
    )
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: PortalInvitation) -> PortalInvitation:
    _check_agent(actor, invitation.contact)
    claimed = PortalInvitation.objects.filter(pk=invitation.pk, state=State.PENDING).update(
        state=State.REVOKED, revoked_at=timezone.now()
    )
    invitation.refresh_from_db()
    if claimed:
        events.publish(
            "portal.invitation_revoked",
            invitation_id=invitation.pk,
            contact_id=invitation.contact_id,
            actor_id=actor.pk,
        )
    return invitation


def invitation_from_token(token: str) -> PortalInvitation | None:
    """The live invitation for a token, or None (unknown, used, revoked or expired)."""
    if not token or len(token) > 100:
        return None
    invitation = (
        PortalInvitation.objects.select_related("contact", "contact__user")
        .filter(token_hash=_hash(token))
        .first()
    )
    if invitation is None or invitation.current_state != State.PENDING:
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, password: str) -> User:
    """Use the link: set the password on the contact's portal login (created if needed)."""
    invitation = invitation_from_token(token)
    if invitation is None:
        raise DomainError("This invitation link is no longer valid. Ask us for a new one.")
    contact = invitation.contact
    user = contact.user or User.objects.filter(email__iexact=contact.email).first()
    if user is not None and (
        user.is_staff or Contact.objects.filter(user=user).exclude(pk=contact.pk).exists()
    ):
        # Never turn an agent's login, or another contact's, into this contact's.
        raise DomainError("This email already signs in elsewhere. Please contact us.")
    if user is None:
        user = User(email=contact.email, name=contact.full_name, timezone=contact.timezone)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password1") from None
    now = timezone.now()
    claimed = PortalInvitation.objects.filter(
        pk=invitation.pk, state=State.PENDING, expires_at__gt=now
    ).update(state=State.ACCEPTED, accepted_at=now)
    if not claimed:
        raise DomainError("This invitation link is no longer valid. Ask us for a new one.")
    user.is_active = True
    user.set_password(password)
    user.save()
    if contact.user_id != user.pk:
        Contact.objects.filter(pk=contact.pk).update(user=user)
        contact.user = user
    events.publish(
        "portal.invitation_accepted",
        invitation_id=invitation.pk,
        contact_id=contact.pk,
        user_id=user.pk,
    )
    return user


def invitation_expire_stale() -> int:
    """Mark pending invitations past their expiry as expired (for lists and admin filters)."""
    return PortalInvitation.objects.filter(
        state=State.PENDING, expires_at__lte=timezone.now()
    ).update(state=State.EXPIRED)
