"""Every write access makes: assignments, configuration audit, sessions, security events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from access import policy
from access.models import AuditLog, PermissionSet, Profile, UserAccess, UserSession
from accounts.models import User


def audit_record(
    *,
    action: str,
    actor: Any = None,
    ip: str | None = None,
    target: Any = None,
    target_type: str = "",
    target_label: str = "",
    before: Any = None,
    after: Any = None,
    detail: str = "",
) -> AuditLog:
    """Append one security event."""
    actor = actor if (actor is not None and getattr(actor, "pk", None)) else None
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_label = target_label or str(target)
    return AuditLog.objects.create(
        actor=actor,
        actor_email=getattr(actor, "email", "") if actor else "",
        ip=ip or None,
        action=action,
        target_type=target_type,
        target_id=str(target.pk) if target is not None and target.pk is not None else "",
        target_label=target_label[:255],
        before=before,
        after=after,
        detail=detail[:255],
    )


@transaction.atomic
def access_config_changed(
    *,
    actor: User | None,
    ip: str | None,
    target: Any,
    action: str,
    before: Any,
    after: Any,
    detail: str = "",
) -> AuditLog:
    """Record a change to a profile, permission set, field security or IP range.

    The admin calls this after saving; it also makes every cached permission stale.
    """
    policy.bump_version()
    return audit_record(
        action=action, actor=actor, ip=ip, target=target, before=before, after=after, detail=detail
    )


@transaction.atomic
def user_access_assign(
    *,
    actor: User | None,
    user: User,
    profile: Profile,
    permission_sets: Iterable[PermissionSet] = (),
    ip: str | None = None,
) -> UserAccess:
    """Give ``user`` this profile and exactly these permission sets."""
    problem = profile_mismatch(user, profile)
    if problem:
        from lib.errors import DomainError

        raise DomainError(problem, field="profile")
    before_row = UserAccess.objects.filter(user=user).select_related("profile").first()
    before = access_snapshot(before_row, user)
    row, _ = UserAccess.objects.update_or_create(user=user, defaults={"profile": profile})
    row.permission_sets.set(list(permission_sets))
    after = access_snapshot(row, user)
    policy.bump_version()
    if before != after:
        audit_record(
            action=AuditLog.Action.PROFILE_ASSIGNED,
            actor=actor,
            ip=ip,
            target=user,
            before=before,
            after=after,
        )
    return row


def profile_mismatch(user: User, profile: Profile) -> str:
    """Why this profile cannot be given to this user, or "" when it can."""
    if user.is_staff and profile.user_type != "staff":
        return "A staff user needs a staff profile."
    if not user.is_staff and profile.user_type != "portal":
        return "A portal user needs a portal profile."
    return ""


def access_snapshot(row: UserAccess | None, user: User) -> dict[str, Any]:
    if row is None:
        return {"profile": f"(default) {policy.default_profile_key(user)}", "permission_sets": []}
    return {
        "profile": row.profile.name,
        "permission_sets": sorted(ps.name for ps in row.permission_sets.all()),
    }


# -- sessions --------------------------------------------------------------------------


def session_started(*, user: User, session_key: str, ip: str, user_agent: str) -> UserSession:
    now = timezone.now()
    row, _ = UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "ip": ip or None,
            "user_agent": user_agent[:300],
            "created_at": now,
            "last_seen_at": now,
            "ended_at": None,
            "end_reason": "",
        },
    )
    return row


@transaction.atomic
def sessions_end(
    *,
    actor: User | None,
    sessions: Iterable[UserSession],
    reason: str,
    ip: str | None = None,
) -> int:
    """End these sessions: the session rows go, so the browsers are signed out at once."""
    now = timezone.now()
    ended = 0
    for row in sessions:
        if row.ended_at is not None:
            continue
        Session.objects.filter(session_key=row.session_key).delete()
        row.ended_at = now
        row.end_reason = reason
        row.save(update_fields=["ended_at", "end_reason"])
        audit_record(
            action=AuditLog.Action.SESSION_ENDED,
            actor=actor,
            ip=ip,
            target=row.user,
            detail=f"{reason}: session {row.session_key[:8]} from {row.ip or '?'}",
        )
        ended += 1
    return ended


def user_sessions_active(*, user: User) -> list[UserSession]:
    return list(UserSession.objects.filter(user=user, ended_at__isnull=True))


def sessions_end_others(
    *, actor: User, user: User, keep_session_key: str | None, reason: str, ip: str | None = None
) -> int:
    others = UserSession.objects.filter(user=user, ended_at__isnull=True).exclude(
        session_key=keep_session_key or ""
    )
    return sessions_end(actor=actor, sessions=list(others), reason=reason, ip=ip)


def sessions_end_all(*, actor: User | None, user: User, reason: str, ip: str | None = None) -> int:
    rows = list(UserSession.objects.filter(user=user, ended_at__isnull=True))
    return sessions_end(actor=actor, sessions=rows, reason=reason, ip=ip)


def session_mark_ended(*, session_key: str, reason: str) -> None:
    UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )


# -- sign-in events (called by access/receivers.py) --------------------------------------


def signin_recorded(*, user: User, session_key: str, ip: str, user_agent: str) -> None:
    session_started(user=user, session_key=session_key, ip=ip, user_agent=user_agent)
    audit_record(
        action=AuditLog.Action.SIGN_IN, actor=user, ip=ip, target=user, detail=describe(user_agent)
    )


def signout_recorded(
    *, user: User, session_key: str | None, ip: str | None, reason: str, audit: bool
) -> None:
    if session_key:
        session_mark_ended(session_key=session_key, reason=reason)
    if audit:
        audit_record(action=AuditLog.Action.SIGN_OUT, actor=user, ip=ip, target=user)


def password_changed_recorded(*, user: User, keep_session_key: str | None, ip: str | None) -> None:
    audit_record(action=AuditLog.Action.PASSWORD_CHANGED, actor=user, ip=ip, target=user)
    sessions_end_others(
        actor=user, user=user, keep_session_key=keep_session_key, reason="password changed", ip=ip
    )


def describe(user_agent: str) -> str:
    from access.models import describe_user_agent

    return describe_user_agent(user_agent)


# -- configuration snapshots -------------------------------------------------------------


def grantee_snapshot(grantee: Profile | PermissionSet) -> dict[str, Any]:
    """Everything a profile or permission set grants, as plain data for the audit."""
    data: dict[str, Any] = {
        "name": grantee.name,
        "system_permissions": sorted(grantee.system_permissions or []),
        "objects": {row.obj_type: row.actions() for row in grantee.object_permissions.all()},
        "fields": {
            f"{row.obj_type}.{row.field}": row.get_access_display()
            for row in grantee.field_permissions.all()
        },
    }
    if isinstance(grantee, Profile):
        for name in (
            "user_type",
            "mfa_required",
            "idle_timeout_minutes",
            "session_lifetime_hours",
            "lock_session_to_ip",
            "ip_check",
            "login_hours",
            "login_hours_timezone",
        ):
            data[name] = getattr(grantee, name)
        data["ip_ranges"] = sorted(r.cidr for r in grantee.ip_ranges.all())
    return data


@transaction.atomic
def field_permissions_set(
    *,
    actor: User | None,
    grantee: Profile | PermissionSet,
    levels: dict[tuple[str, str], int | None],
    ip: str | None = None,
) -> int:
    """Set the field levels of a profile or permission set; None removes the row.

    Returns how many fields changed; writes one audit row with the before/after.
    """
    from access.models import FieldPermission

    owner = {"profile": grantee} if isinstance(grantee, Profile) else {"permission_set": grantee}
    existing = {(r.obj_type, r.field): r for r in FieldPermission.objects.filter(**owner)}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for (obj_type, name), level in levels.items():
        row = existing.get((obj_type, name))
        old = row.access if row else None
        if old == level:
            continue
        label = f"{obj_type}.{name}"
        before[label] = _level_name(old)
        after[label] = _level_name(level)
        if level is None:
            row.delete()
        elif row is None:
            FieldPermission.objects.create(obj_type=obj_type, field=name, access=level, **owner)
        else:
            row.access = level
            row.save(update_fields=["access"])
    if after:
        access_config_changed(
            actor=actor,
            ip=ip,
            target=grantee,
            action=AuditLog.Action.CONFIG_CHANGED,
            before=before,
            after=after,
            detail="field-level security",
        )
    return len(after)


def _level_name(level: int | None) -> str:
    return "default" if level is None else policy.LEVEL_NAMES[level]
