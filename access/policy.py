"""The one place that decides access (DESIGN.md, "One place decides access").

Three questions, asked by every surface (desk, portal, API, exports, email):

1. ``can(user, action, obj_type, record=None)``: may this user do this?
2. ``scope(user, obj_type, queryset)``: which records may they see?
3. ``readable_fields`` / ``editable_fields``: which fields may they read and edit?

Object types are short names: "case", "account", "contact", "comment",
"attachment", "activity". Actions: "read", "create", "edit", "delete".

This module takes querysets instead of importing the models it filters, so that
``cases`` and ``accounts`` can call it without import cycles.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

ACTIONS = ("read", "create", "edit", "delete")
OBJECT_TYPES = ("case", "account", "contact", "comment", "attachment", "activity")


def is_agent(user: Any) -> bool:
    """Staff who work the desk."""
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def portal_contact(user: Any) -> Any | None:
    """The Contact a portal user signs in as, or None."""
    if not (user and user.is_authenticated and user.is_active) or user.is_staff:
        return None
    return getattr(user, "contact", None)


def is_account_manager(user: Any) -> bool:
    contact = portal_contact(user)
    return bool(contact and contact.account_id and contact.portal_role == "manager")


# -- 1. actions ---------------------------------------------------------------------


def can(user: Any, action: str, obj_type: str, record: Any = None) -> bool:
    if action not in ACTIONS or obj_type not in OBJECT_TYPES:
        raise ValueError(f"Unknown action or object type: {action} {obj_type}")
    if is_agent(user):
        return True
    contact = portal_contact(user)
    if contact is None:
        return False
    # Portal users: read what they may see; file cases; comment and attach on them.
    if obj_type == "case":
        if action == "create":
            return True
        if action in ("read", "edit") and record is not None:
            return _case_visible_to_contact(user, contact, record)
        return action == "read" and record is None
    if obj_type in ("comment", "attachment"):
        return action in ("read", "create")
    return False


def check(user: Any, action: str, obj_type: str, record: Any = None) -> None:
    """Raise PermissionDenied unless ``can`` says yes."""
    if not can(user, action, obj_type, record):
        raise PermissionDenied(f"Not allowed to {action} this {obj_type}.")


def _case_visible_to_contact(user: Any, contact: Any, case: Any) -> bool:
    if case.contact_id == contact.pk:
        return True
    return is_account_manager(user) and case.account_id == contact.account_id


# -- 2. records ---------------------------------------------------------------------


def case_filter(user: Any, prefix: str = "") -> Q:
    """A Q that keeps the cases this user may see; ``prefix`` reaches a case through a relation."""
    if is_agent(user):
        return Q()
    contact = portal_contact(user)
    if contact is None:
        return Q(pk__in=[])
    visible = Q(**{f"{prefix}contact_id": contact.pk})
    if is_account_manager(user):
        visible |= Q(**{f"{prefix}account_id": contact.account_id})
    return visible


def scope(user: Any, obj_type: str, queryset: QuerySet) -> QuerySet:
    """Narrow ``queryset`` of ``obj_type`` to the records ``user`` may see."""
    if obj_type == "case":
        return queryset.filter(case_filter(user))
    if obj_type in ("comment", "attachment", "activity"):
        scoped = queryset.filter(case_filter(user, prefix="case__"))
        if not is_agent(user):
            if obj_type == "activity":
                return scoped.none()
            # Customers never see internal notes or the files on them.
            scoped = scoped.filter(is_public=True)
        return scoped
    if obj_type in ("account", "contact"):
        return queryset if is_agent(user) else queryset.none()
    raise ValueError(f"Unknown object type: {obj_type}")


# -- 3. fields ----------------------------------------------------------------------


def readable_fields(user: Any, obj_type: str, all_fields: tuple[str, ...]) -> tuple[str, ...]:
    """The subset of ``all_fields`` this user may read, in the given order."""
    return all_fields


def editable_fields(user: Any, obj_type: str, all_fields: tuple[str, ...]) -> tuple[str, ...]:
    """The subset of ``all_fields`` this user may edit, in the given order."""
    return all_fields if is_agent(user) else ()


def recipient_readable_fields(
    recipient: Any, obj_type: str, all_fields: tuple[str, ...]
) -> tuple[str, ...]:
    """Fields an email recipient may read: a User, or a Contact (portal rules apply).

    Email templates are rendered with only these fields, so a template cannot leak a
    field its recipient could not see on a page.
    """
    user = getattr(recipient, "user", None) if not hasattr(recipient, "is_staff") else recipient
    if user is not None:
        return readable_fields(user, obj_type, all_fields)
    # A contact without a portal login reads what a portal user would.
    return _portal_default_readable(obj_type, all_fields)


def _portal_default_readable(obj_type: str, all_fields: tuple[str, ...]) -> tuple[str, ...]:
    return all_fields
