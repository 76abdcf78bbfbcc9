"""The one place that decides access (DESIGN.md, "One place decides access").

Three questions, asked by every surface (desk, portal, API, exports, email):

1. ``can(user, action, obj_type, record=None)``: may this user do this?
2. ``scope(user, obj_type, queryset)``: which records may they see?
3. ``readable_fields`` / ``editable_fields``: which fields may they read and edit?

Object types and actions are listed in ``access/registry.py``. The answers come from the
user's profile and permission sets (``access/models.py``), combined once into an
``Effective`` object that is cached on the user instance and in the Django cache under a
version number; every change to profiles, permission sets, field security, IP ranges or
assignments bumps the version (``bump_version``), so a list page costs a fixed number of
queries and nobody works from stale rights.

Record rules:
- staff see the cases they own, the cases of the queues they are members of, and the
  triage pool (no owner and no queue); "view all" on case widens reading to all cases
  (the default Support Agent has it). Editing or deleting needs the action and the
  record in that own reach; only "modify all" reaches every record for changes.
- portal users see the cases whose contact they are; account managers
  (``Contact.portal_role == "manager"``) all cases of their account.
- comments, attachments and activities follow their case; internal notes and
  non-public attachments are never shown to portal users, activities never.
- accounts and contacts: staff with read see all; portal users only their own account
  and contact (if their profile grants read at all).

This module takes querysets instead of importing the models it filters, so that
``cases`` and ``accounts`` can call it without import cycles.
"""

from __future__ import annotations

import ipaddress
import time
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from access import registry
from access.registry import ACTIONS
from lib import snapshot
from lib.snapshot import snapshot_value

OBJECT_TYPES = registry.OBJECTS  # kept for callers that test membership

HIDDEN, READ_ONLY, EDITABLE = 0, 1, 2
LEVEL_NAMES = {HIDDEN: "hidden", READ_ONLY: "read-only", EDITABLE: "editable"}

# Profile keys the data migration creates and the defaults point at.
SYSTEM_ADMINISTRATOR = "system_administrator"
SUPPORT_SUPERVISOR = "support_supervisor"
SUPPORT_AGENT = "support_agent"
PORTAL_USER = "customer_portal_user"
PORTAL_MANAGER = "customer_portal_manager"

# Actions that imply others, as Salesforce does: modify all reaches every record.
_IMPLIES = {
    "modify_all": ("view_all", "read", "edit", "delete"),
    "view_all": ("read",),
    "edit": ("read",),
    "delete": ("read",),
}

_VERSION_KEY = "access:version"
# Part of every cache key: bump when ``Effective`` changes shape, so a deploy never
# unpickles an old object into the new class.
_SCHEMA = 1
_CACHE_SECONDS = 60 * 60


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


# -- effective permissions ----------------------------------------------------------


@dataclass
class Effective:
    """Everything one user is granted, with who grants it. Plain data: it is cached."""

    user_type: str = "staff"
    profile_id: int | None = None
    profile_name: str = ""
    profile_key: str = ""
    assigned: bool = False
    permission_sets: list[str] = field(default_factory=list)
    objects: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    system: dict[str, list[str]] = field(default_factory=dict)
    # Explicit field levels only: obj -> field -> (level, granted by).
    fields: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)
    mfa_required: bool = False
    idle_timeout_minutes: int = 120
    session_lifetime_hours: int = 24
    lock_session_to_ip: bool = False
    ip_check: str = "signin"
    ip_ranges: list[str] = field(default_factory=list)
    login_hours: dict[str, list[str]] = field(default_factory=dict)
    login_hours_timezone: str = "UTC"

    def allows(self, obj_type: str, action: str) -> bool:
        return bool(self.objects.get(obj_type, {}).get(action))

    def has_system(self, code: str) -> bool:
        return bool(self.system.get(code))

    def field_level(self, obj_type: str, name: str) -> tuple[int, str]:
        explicit = self.fields.get(obj_type, {}).get(name)
        if explicit is not None:
            return explicit
        default = READ_ONLY if self.user_type == "portal" else EDITABLE
        return default, f"default for {self.user_type} profiles"


def _version() -> int:
    version = cache.get(_VERSION_KEY)
    if version is None:
        # A fresh number after a cache flush, so no entry written before can match it.
        cache.add(_VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(_VERSION_KEY)
    return int(version)


# Bumped with the shared version by this process. A user object lives for one request,
# so its memo only needs the shared (Redis) version read once, when it is first computed;
# a change made in this same process (an admin save, a test) still invalidates it at once.
_local_generation = 0


def bump_version() -> None:
    """Forget every cached Effective; call on any change to what grants access."""
    global _local_generation
    _local_generation += 1
    snapshot.forget()

    def bump() -> None:
        cache.set(_VERSION_KEY, time.time_ns(), timeout=None)

    bump()
    # Again after commit: a request that read the old rows meanwhile cached them under
    # the first new number.
    transaction.on_commit(bump)


def default_profile_key(user: Any) -> str:
    if user.is_superuser:
        return SYSTEM_ADMINISTRATOR
    if user.is_staff:
        return SUPPORT_AGENT
    contact = getattr(user, "contact", None) if user.pk else None
    if contact is not None and contact.portal_role == "manager":
        return PORTAL_MANAGER
    return PORTAL_USER


def effective(user: Any) -> Effective:
    """The user's combined grants: once per instance and version, cached across requests."""
    if not (user and getattr(user, "is_authenticated", False) and user.pk):
        return Effective(user_type="none")
    memo = getattr(user, "_access_effective", None)
    if memo is not None and memo[2] == _local_generation:
        return memo[1]
    version = _version()
    # The default profile depends on these flags, so they are part of the key.
    kind = f"{default_profile_key(user)}:{int(user.is_active)}"
    key = f"access:eff:{_SCHEMA}:{version}:{user.pk}:{kind}"
    eff = cache.get(key)
    if eff is None:
        eff = _compute(user)
        cache.set(key, eff, _CACHE_SECONDS)
    user._access_effective = (version, eff, _local_generation)
    return eff


def effective_for_profile(profile_key: str) -> Effective:
    """Grants of a profile alone (email recipients without a login)."""
    return snapshot_value(("access.profile", profile_key), lambda: _profile_grants(profile_key))


def _profile_grants(profile_key: str) -> Effective:
    version = _version()
    key = f"access:profile:{_SCHEMA}:{version}:{profile_key}"
    eff = cache.get(key)
    if eff is None:
        profile_model = apps.get_model("access", "Profile")
        profile = profile_model.objects.filter(key=profile_key).first()
        eff = _combine(profile, [], assigned=False) if profile else _from_spec(profile_key)
        cache.set(key, eff, _CACHE_SECONDS)
    return eff


def _compute(user: Any) -> Effective:
    user_access = apps.get_model("access", "UserAccess")
    profile_model = apps.get_model("access", "Profile")
    row = user_access.objects.filter(user_id=user.pk).select_related("profile").first()
    if row is not None:
        return _combine(row.profile, list(row.permission_sets.all()), assigned=True)
    key = default_profile_key(user)
    profile = profile_model.objects.filter(key=key).first()
    if profile is None:
        return _from_spec(key)
    return _combine(profile, [], assigned=False)


def _from_spec(key: str) -> Effective:
    """A default profile straight from ``access/defaults.py`` when its row is missing."""
    from access.defaults import PROFILES

    spec = next((p for p in PROFILES if p["key"] == key), None)
    if spec is None:
        return Effective(user_type="none")
    eff = Effective(user_type=spec["user_type"], profile_name=spec["name"], profile_key=key)
    label = f"profile {spec['name']} (built-in)"
    for code in spec["system_permissions"]:
        eff.system[code] = [label]
    for obj_type, actions in spec["objects"].items():
        granted = eff.objects.setdefault(obj_type, {})
        for action in actions:
            for implied in (action, *_IMPLIES.get(action, ())):
                granted.setdefault(implied, [label])
    for name in ("idle_timeout_minutes", "session_lifetime_hours"):
        if name in spec:
            setattr(eff, name, spec[name])
    return eff


def _combine(profile: Any, permission_sets: list[Any], *, assigned: bool) -> Effective:
    eff = Effective(assigned=assigned)
    if profile is None:
        eff.user_type = "none"
        return eff
    eff.user_type = profile.user_type
    eff.profile_id = profile.pk
    eff.profile_name = profile.name
    eff.profile_key = profile.key
    eff.permission_sets = [ps.name for ps in permission_sets]
    for name in (
        "mfa_required",
        "idle_timeout_minutes",
        "session_lifetime_hours",
        "lock_session_to_ip",
        "ip_check",
        "login_hours",
        "login_hours_timezone",
    ):
        setattr(eff, name, getattr(profile, name))
    eff.ip_ranges = [r.cidr for r in profile.ip_ranges.all()]

    grantors = [(f"profile {profile.name}", profile)] + [
        (f"permission set {ps.name}", ps) for ps in permission_sets
    ]
    for label, grantor in grantors:
        for code in grantor.system_permissions or []:
            eff.system.setdefault(code, []).append(label)

    object_model = apps.get_model("access", "ObjectPermission")
    field_model = apps.get_model("access", "FieldPermission")
    grants = Q(profile=profile) | Q(permission_set__in=[ps.pk for ps in permission_sets])
    names = {("p", profile.pk): f"profile {profile.name}"}
    names.update({("s", ps.pk): f"permission set {ps.name}" for ps in permission_sets})

    def grantor_of(row: Any) -> str:
        return (
            names[("p", row.profile_id)] if row.profile_id else names[("s", row.permission_set_id)]
        )

    for row in object_model.objects.filter(grants):
        actions = eff.objects.setdefault(row.obj_type, {})
        for action in row.actions():
            for implied in (action, *_IMPLIES.get(action, ())):
                granted = actions.setdefault(implied, [])
                label = grantor_of(row) if implied == action else f"{grantor_of(row)} ({action})"
                if label not in granted:
                    granted.append(label)

    profile_levels: dict[tuple[str, str], int] = {}
    set_levels: dict[tuple[str, str], tuple[int, str]] = {}
    for row in field_model.objects.filter(grants):
        spot = (row.obj_type, row.field)
        if row.profile_id:
            profile_levels[spot] = row.access
        elif row.access > set_levels.get(spot, (-1, ""))[0]:
            set_levels[spot] = (row.access, grantor_of(row))
    for (obj_type, name), level in profile_levels.items():
        eff.fields.setdefault(obj_type, {})[name] = (level, f"profile {profile.name}")
    for (obj_type, name), (level, label) in set_levels.items():
        current = eff.field_level(obj_type, name)
        if level > current[0]:
            eff.fields.setdefault(obj_type, {})[name] = (level, label)
    return eff


def has_system_permission(user: Any, code: str) -> bool:
    if code not in registry.SYSTEM_PERMISSIONS:
        raise ValueError(f"Unknown system permission: {code}")
    return _active(user) and effective(user).has_system(code)


def check_system_permission(user: Any, code: str) -> None:
    if not has_system_permission(user, code):
        raise PermissionDenied(f"You need the {registry.SYSTEM_PERMISSIONS[code]} permission.")


def _active(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


# -- 1. actions ---------------------------------------------------------------------


def can(user: Any, action: str, obj_type: str, record: Any = None) -> bool:
    if action not in ACTIONS or obj_type not in registry.OBJECTS:
        raise ValueError(f"Unknown action or object type: {action} {obj_type}")
    if not _active(user):
        return False
    eff = effective(user)
    if not eff.allows(obj_type, action):
        return False
    if record is None or action in ("create", "view_all", "modify_all"):
        return True
    if eff.allows(obj_type, "modify_all"):
        return True
    return _record_in_reach(user, eff, obj_type, record, write=action != "read")


def check(user: Any, action: str, obj_type: str, record: Any = None) -> None:
    """Raise PermissionDenied unless ``can`` says yes."""
    if not can(user, action, obj_type, record):
        raise PermissionDenied(
            f"You are not allowed to {action.replace('_', ' ')} this {obj_type}."
        )


def _record_in_reach(user: Any, eff: Effective, obj_type: str, record: Any, *, write: bool) -> bool:
    if obj_type == "case":
        return _case_visible(user, eff, record, write=write)
    if obj_type in ("comment", "attachment", "activity"):
        if not is_agent(user):
            if obj_type == "activity" or not record.is_public:
                return False
            if obj_type == "attachment" and record.comment_id and not record.comment.is_public:
                return False
        return _case_visible(user, eff, record.case, write=write)
    if obj_type in ("account", "contact"):
        if is_agent(user) or eff.allows(obj_type, "view_all"):
            return True
        contact = portal_contact(user)
        if contact is None:
            return False
        if obj_type == "account":
            return record.pk == contact.account_id
        return record.pk == contact.pk
    # Objects registered later decide record reach in their own selectors.
    return True


def _queue_ids(user: Any) -> frozenset[int]:
    # Once per user instance: memberships are read live, not from the shared cache.
    ids = getattr(user, "_access_queue_ids", None)
    if ids is None:
        queue_model = apps.get_model("cases", "Queue")
        ids = frozenset(queue_model.objects.filter(members=user).values_list("pk", flat=True))
        user._access_queue_ids = ids
    return ids


def _case_visible(user: Any, eff: Effective, case: Any, *, write: bool = False) -> bool:
    """May the user read (or, with ``write``, change) this case's record?

    "View all" reaches every case for reading only; changing needs "modify all" or the
    case in the user's own reach (owner, queue member, unassigned pool).
    """
    if not eff.allows("case", "read"):
        return False
    if is_agent(user):
        if eff.allows("case", "modify_all") or (not write and eff.allows("case", "view_all")):
            return True
        if case.owner_id == user.pk:
            return True
        if case.owner_id is None and case.queue_id is None:
            return True
        return case.queue_id is not None and case.queue_id in _queue_ids(user)
    contact = portal_contact(user)
    if contact is None:
        return False
    if case.contact_id == contact.pk:
        return True
    return is_account_manager(user) and case.account_id == contact.account_id


# -- 2. records ---------------------------------------------------------------------


def case_filter(user: Any, prefix: str = "") -> Q:
    """A Q that keeps the cases this user may see; ``prefix`` reaches a case through a relation."""
    nothing = Q(pk__in=[])
    if not _active(user):
        return nothing
    eff = effective(user)
    if not eff.allows("case", "read"):
        return nothing
    if is_agent(user):
        if eff.allows("case", "view_all"):
            return Q()
        queue_model = apps.get_model("cases", "Queue")
        # A subquery, not a join through members: a join would repeat each case per member.
        return (
            Q(**{f"{prefix}owner_id": user.pk})
            | Q(**{f"{prefix}queue__in": queue_model.objects.filter(members=user).values("pk")})
            | Q(**{f"{prefix}owner__isnull": True, f"{prefix}queue__isnull": True})
        )
    contact = portal_contact(user)
    if contact is None:
        return nothing
    visible = Q(**{f"{prefix}contact_id": contact.pk})
    if is_account_manager(user):
        visible |= Q(**{f"{prefix}account_id": contact.account_id})
    return visible


def scope(user: Any, obj_type: str, queryset: QuerySet) -> QuerySet:
    """Narrow ``queryset`` of ``obj_type`` to the records ``user`` may see."""
    if obj_type not in registry.OBJECTS:
        raise ValueError(f"Unknown object type: {obj_type}")
    if not _active(user) or not effective(user).allows(obj_type, "read"):
        return queryset.none()
    eff = effective(user)
    if obj_type == "case":
        return queryset.filter(case_filter(user))
    if obj_type in ("comment", "attachment", "activity"):
        scoped = queryset.filter(case_filter(user, prefix="case__"))
        if not is_agent(user):
            if obj_type == "activity":
                return scoped.none()
            # Customers never see internal notes or the files on them (even a file marked
            # public that hangs on an internal note).
            scoped = scoped.filter(is_public=True)
            if obj_type == "attachment":
                scoped = scoped.filter(Q(comment__isnull=True) | Q(comment__is_public=True))
        return scoped
    if obj_type in ("account", "contact"):
        if is_agent(user) or eff.allows(obj_type, "view_all"):
            return queryset
        contact = portal_contact(user)
        if contact is None:
            return queryset.none()
        if obj_type == "account":
            return queryset.filter(pk=contact.account_id)
        return queryset.filter(pk=contact.pk)
    return queryset


# -- 3. fields ----------------------------------------------------------------------


def field_level(user: Any, obj_type: str, name: str) -> int:
    if not _active(user):
        return HIDDEN
    return effective(user).field_level(obj_type, name)[0]


def readable_fields(user: Any, obj_type: str, all_fields: tuple[str, ...]) -> tuple[str, ...]:
    """The subset of ``all_fields`` this user may read, in the given order."""
    if not _active(user):
        return ()
    return _readable(effective(user), obj_type, all_fields)


def _readable(eff: Effective, obj_type: str, all_fields: tuple[str, ...]) -> tuple[str, ...]:
    if not eff.allows(obj_type, "read"):
        return ()
    return tuple(f for f in all_fields if eff.field_level(obj_type, f)[0] >= READ_ONLY)


def editable_fields(user: Any, obj_type: str, all_fields: tuple[str, ...]) -> tuple[str, ...]:
    """The subset of ``all_fields`` this user may edit, in the given order."""
    if not _active(user):
        return ()
    eff = effective(user)
    if not (eff.allows(obj_type, "edit") or eff.allows(obj_type, "create")):
        return ()
    return tuple(f for f in all_fields if eff.field_level(obj_type, f)[0] == EDITABLE)


def forbidden_changes(
    user: Any, obj_type: str, submitted: dict[str, Any], current: dict[str, Any]
) -> list[str]:
    """Fields in ``submitted`` the user may not edit and whose value differs from ``current``.

    The one behaviour for forbidden fields in a POST (README, Security model): a hidden
    or read-only field sent with its current value is ignored; sent with another value,
    the whole request is refused with a clear error and nothing is saved.
    """
    allowed = set(editable_fields(user, obj_type, tuple(submitted)))
    return sorted(
        name
        for name, value in submitted.items()
        if name not in allowed and current.get(name) != value
    )


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
    # A contact without a portal login reads what the default portal profile would.
    key = PORTAL_MANAGER if getattr(recipient, "portal_role", "") == "manager" else PORTAL_USER
    return _readable(effective_for_profile(key), obj_type, all_fields)


# -- sign-in and session rules --------------------------------------------------------


def ip_allowed(eff: Effective, ip: str) -> bool:
    """True when the profile has no ranges or ``ip`` is inside one of them."""
    if not eff.ip_ranges:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for cidr in eff.ip_ranges:
        network = ipaddress.ip_network(cidr, strict=False)
        if address.version == network.version and address in network:
            return True
    return False


def within_login_hours(eff: Effective, now: datetime | None = None) -> bool:
    if not eff.login_hours:
        return True
    local = (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(eff.login_hours_timezone))
    span = eff.login_hours.get(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()])
    if not span:
        return False
    return span[0] <= local.strftime("%H:%M") < span[1]


def signin_refusal(user: Any, ip: str, now: datetime | None = None) -> str:
    """Why this user may not sign in from ``ip`` now, or "" when they may."""
    eff = effective(user)
    if eff.user_type == "none":
        return "no profile"
    if not ip_allowed(eff, ip):
        return "address outside the profile's login IP ranges"
    if not within_login_hours(eff, now):
        return "outside the profile's login hours"
    return ""
