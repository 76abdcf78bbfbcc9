"""The desk's view of a contact's portal access (for templates/portal/_contact_invitation.html)."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.invitations import invitation_for
from accounts.models import PortalInvitation

register = template.Library()


@register.simple_tag
def portal_invitation_state(contact: Any) -> dict[str, Any]:
    user = contact.user if contact.user_id else None
    invitation = invitation_for(contact)
    state = invitation.current_state if invitation else ""
    return {
        "has_login": bool(user and user.is_active and user.has_usable_password()),
        "last_login": user.last_login if user else None,
        "invitation": invitation,
        "state": state,
        "label": PortalInvitation.State(state).label if state else "",
    }
