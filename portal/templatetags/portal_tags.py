"""Filters for portal templates: safe Markdown, agent names as the admin configures."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from portal.markup import render_markdown
from portal.models import PortalSettings

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    return render_markdown(text)


def agent_display_name(user: Any, style: str | None = None) -> str:
    """An agent's name as the admin chose to show it (full or first name)."""
    if user is None:
        return "Support"
    style = style or PortalSettings.load().agent_name_style
    if style == PortalSettings.AgentNames.FIRST:
        return user.get_short_name()
    return user.get_full_name()


@register.simple_tag(takes_context=True)
def author(context: template.Context, comment: Any) -> str:
    """Who wrote a reply, as a customer should see it."""
    viewer_contact = context.get("contact")
    if comment.author_contact_id:
        if viewer_contact is not None and comment.author_contact_id == viewer_contact.pk:
            return "You"
        return str(comment.author_contact)
    if comment.author_user_id:
        # The style comes with the page's branding, so a long thread reads settings once.
        branding = context.get("portal") or {}
        return agent_display_name(comment.author_user, branding.get("agent_names"))
    return "Support"


@register.filter
def filesize(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
