"""Profiles, permission sets, field-level security, login IP ranges, sessions and the audit.

Access is decided in ``access/policy.py`` from these rows; admins change them in the
Django admin (``access/admin.py``), which writes an ``AuditLog`` row for every change.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from lib.timezones import timezone_choices

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class UserType(models.TextChoices):
    STAFF = "staff", "Staff (desk)"
    PORTAL = "portal", "Portal (customer)"


class Profile(models.Model):
    """What a user may do; every user has exactly one (see ``UserAccess``)."""

    class IpCheck(models.TextChoices):
        SIGN_IN = "signin", "At sign-in only"
        EVERY_REQUEST = "every_request", "On every request"

    name = models.CharField(max_length=100, unique=True)
    key = models.SlugField(
        max_length=60, unique=True, help_text="Stable name code refers to (defaults use it)."
    )
    description = models.TextField(blank=True)
    user_type = models.CharField(max_length=10, choices=UserType.choices, default=UserType.STAFF)
    system_permissions = models.JSONField(default=list, blank=True)
    mfa_required = models.BooleanField(
        "MFA required", default=False, help_text="Users must enrol an authenticator app first."
    )
    idle_timeout_minutes = models.PositiveIntegerField(
        default=120,
        validators=[MinValueValidator(15), MaxValueValidator(24 * 60)],
        help_text="Sign out after this long without a request (15 minutes to 24 hours).",
    )
    session_lifetime_hours = models.PositiveIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
        help_text="Sign out this long after sign-in, active or not.",
    )
    lock_session_to_ip = models.BooleanField(
        default=False, help_text="End the session when a request comes from another address."
    )
    ip_check = models.CharField(
        "check login IP ranges",
        max_length=15,
        choices=IpCheck.choices,
        default=IpCheck.SIGN_IN,
    )
    login_hours = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per weekday, e.g. {"mon": ["08:00", "18:00"]}. Empty: any time. '
        "A weekday missing from a non-empty value means no sign-in that day.",
    )
    login_hours_timezone = models.CharField(max_length=64, choices=timezone_choices, default="UTC")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        clean_system_permissions(self.system_permissions)
        if not isinstance(self.login_hours, dict):
            raise ValidationError({"login_hours": "A mapping of weekday to [from, to]."})
        for day, span in self.login_hours.items():
            if day not in WEEKDAYS:
                raise ValidationError({"login_hours": f"Unknown weekday {day!r}."})
            if (
                not isinstance(span, list | tuple)
                or len(span) != 2
                or not all(isinstance(t, str) and _HHMM.match(t) for t in span)
                or span[0] >= span[1]
            ):
                raise ValidationError({"login_hours": f'{day}: give ["HH:MM", "HH:MM"].'})


class PermissionSet(models.Model):
    """Extra grants on top of a profile; a user may have many."""

    name = models.CharField(max_length=100, unique=True)
    key = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    system_permissions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        clean_system_permissions(self.system_permissions)


def clean_system_permissions(value: Any) -> None:
    from access.registry import SYSTEM_PERMISSIONS

    if not isinstance(value, list) or any(v not in SYSTEM_PERMISSIONS for v in value):
        raise ValidationError({"system_permissions": "Unknown system permission."})


def _one_grantee() -> models.Q:
    return models.Q(profile__isnull=False, permission_set__isnull=True) | models.Q(
        profile__isnull=True, permission_set__isnull=False
    )


class ObjectPermission(models.Model):
    """The actions a profile or permission set grants on one object type."""

    profile = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.CASCADE, related_name="object_permissions"
    )
    permission_set = models.ForeignKey(
        PermissionSet,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="object_permissions",
    )
    obj_type = models.CharField("object", max_length=40)
    can_read = models.BooleanField("read", default=False)
    can_create = models.BooleanField("create", default=False)
    can_edit = models.BooleanField("edit", default=False)
    can_delete = models.BooleanField("delete", default=False)
    can_view_all = models.BooleanField("view all", default=False)
    can_modify_all = models.BooleanField("modify all", default=False)

    class Meta:
        ordering = ["obj_type"]
        constraints = [
            models.CheckConstraint(condition=_one_grantee(), name="objperm_one_grantee"),
            models.UniqueConstraint(fields=["profile", "obj_type"], name="objperm_profile_uniq"),
            models.UniqueConstraint(
                fields=["permission_set", "obj_type"], name="objperm_permset_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.obj_type}: {', '.join(self.actions()) or 'none'}"

    def actions(self) -> list[str]:
        from access.registry import ACTIONS

        return [a for a in ACTIONS if getattr(self, f"can_{a}")]

    def clean(self) -> None:
        from access.registry import OBJECTS

        if self.obj_type not in OBJECTS:
            raise ValidationError({"obj_type": "Unknown object type."})


class FieldAccess(models.IntegerChoices):
    HIDDEN = 0, "Hidden"
    READ_ONLY = 1, "Read-only"
    EDITABLE = 2, "Editable"


class FieldPermission(models.Model):
    """Field-level security of one field for a profile or permission set.

    On a profile the row sets the level (no row: the default of the profile's user type).
    On a permission set it is a grant: the user gets the highest level of all their rows.
    """

    profile = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.CASCADE, related_name="field_permissions"
    )
    permission_set = models.ForeignKey(
        PermissionSet,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="field_permissions",
    )
    obj_type = models.CharField("object", max_length=40)
    field = models.CharField(max_length=80)
    access = models.PositiveSmallIntegerField(choices=FieldAccess.choices)

    class Meta:
        ordering = ["obj_type", "field"]
        constraints = [
            models.CheckConstraint(condition=_one_grantee(), name="fieldperm_one_grantee"),
            models.UniqueConstraint(
                fields=["profile", "obj_type", "field"], name="fieldperm_profile_uniq"
            ),
            models.UniqueConstraint(
                fields=["permission_set", "obj_type", "field"], name="fieldperm_permset_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.obj_type}.{self.field}: {self.get_access_display()}"


def validate_cidr(value: str) -> None:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValidationError(f"{value!r} is not an address or CIDR range.") from None


class LoginIpRange(models.Model):
    """An address range a profile's users may sign in from; none means anywhere."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="ip_ranges")
    cidr = models.CharField(
        "CIDR range", max_length=50, validators=[validate_cidr], help_text="e.g. 203.0.113.0/24"
    )
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["cidr"]
        verbose_name = "login IP range"

    def __str__(self) -> str:
        return self.cidr


class UserAccess(models.Model):
    """A user's profile and permission sets. No row: the default profile for the user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access"
    )
    profile = models.ForeignKey(Profile, on_delete=models.PROTECT, related_name="assignments")
    permission_sets = models.ManyToManyField(PermissionSet, blank=True, related_name="users")

    class Meta:
        verbose_name = "user access"
        verbose_name_plural = "user access"

    def __str__(self) -> str:
        return f"{self.user}: {self.profile}"


class UserSession(models.Model):
    """One signed-in session (DB sessions share its key), shown on the session list."""

    session_key = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signed_in_sessions"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["user", "ended_at"], name="usersession_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} from {self.ip} ({self.session_key[:6]}…)"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None

    @property
    def browser(self) -> str:
        return describe_user_agent(self.user_agent)


def describe_user_agent(ua: str) -> str:
    """A short "Browser on OS" from a User-Agent, good enough to recognise a session."""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Chromium/", "Chromium"),
                ("Safari/", "Safari"),
            )
            if token in ua
        ),
        "Unknown browser",
    )
    system = next(
        (
            name
            for token, name in (
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Android", "Android"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("Linux", "Linux"),
            )
            if token in ua
        ),
        "unknown system",
    )
    return f"{browser} on {system}"


class AuditLog(models.Model):
    """An append-only record of a security event. Rows are never changed or deleted."""

    class Action(models.TextChoices):
        CONFIG_CREATED = "config_created", "Configuration created"
        CONFIG_CHANGED = "config_changed", "Configuration changed"
        CONFIG_DELETED = "config_deleted", "Configuration deleted"
        PROFILE_ASSIGNED = "profile_assigned", "Profile / permission sets assigned"
        SIGN_IN = "sign_in", "Signed in"
        SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
        SIGN_IN_REFUSED = "sign_in_refused", "Sign-in refused by policy"
        SIGN_OUT = "sign_out", "Signed out"
        LOCKED_OUT = "locked_out", "Locked out"
        SESSION_ENDED = "session_ended", "Session ended"
        MFA_CHANGED = "mfa_changed", "MFA changed"
        PASSWORD_CHANGED = "password_changed", "Password changed"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text too: the trail must survive the actor's deletion.
    actor_email = models.CharField(max_length=254, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=30, choices=Action.choices, db_index=True)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()} {self.target_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValidationError("Audit rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValidationError("Audit rows are append-only.")
