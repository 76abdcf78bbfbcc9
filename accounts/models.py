"""People and companies: the user who signs in, the customer Account and its Contacts."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone as dj_timezone

from lib.timezones import timezone_choices


def language_choices() -> list[tuple[str, str]]:
    return list(settings.LANGUAGES)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who signs in. Agents are staff; customers are linked to one Contact."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    timezone = models.CharField(max_length=64, choices=timezone_choices, default="UTC")
    is_staff = models.BooleanField(
        "agent (staff)", default=False, help_text="Agents work cases in the desk."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=dj_timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["name", "email"]

    def __str__(self) -> str:
        return self.name or self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return (self.name.split() or [self.email])[0]


class Account(models.Model):
    """A customer company."""

    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        PREMIUM = "premium", "Premium"
        ENTERPRISE = "enterprise", "Enterprise"

    name = models.CharField(max_length=200)
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.STANDARD)
    phone = models.CharField(max_length=40, blank=True)
    website = models.URLField(blank=True)
    billing_street = models.CharField("street", max_length=255, blank=True)
    billing_city = models.CharField("city", max_length=100, blank=True)
    billing_state = models.CharField("state / region", max_length=100, blank=True)
    billing_postal_code = models.CharField("postal code", max_length=20, blank=True)
    billing_country = models.CharField("country", max_length=100, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_accounts",
        limit_choices_to={"is_staff": True},
        help_text="The agent who looks after this customer.",
    )
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(Lower("name"), name="account_name_lower_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def billing_address(self) -> str:
        parts = [
            self.billing_street,
            self.billing_city,
            self.billing_state,
            self.billing_postal_code,
            self.billing_country,
        ]
        return ", ".join(p for p in parts if p)


class AccountDomain(models.Model):
    """An email domain that belongs to an Account (mail from it maps to the Account)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class Contact(models.Model):
    """A person at a customer; optionally a portal user who signs in."""

    class PortalRole(models.TextChoices):
        USER = "user", "Portal user"
        MANAGER = "manager", "Account manager (sees all the account's cases)"

    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="contacts"
    )
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(unique=True)
    phone = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, choices=timezone_choices, default="UTC")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact",
        help_text="The portal login of this contact, if they have one.",
    )
    portal_role = models.CharField(
        max_length=20, choices=PortalRole.choices, default=PortalRole.USER
    )
    # The language the portal speaks to this contact in (blank: the site default).
    language = models.CharField(max_length=10, choices=language_choices, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "email"]
        indexes = [models.Index(Lower("last_name"), name="contact_last_name_lower_idx")]

    def __str__(self) -> str:
        return self.full_name or self.email

    def save(self, *args: object, **kwargs: object) -> None:
        # Emails are compared case-insensitively everywhere (login, intake, lookup).
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class PortalInvitation(models.Model):
    """A one-time link that lets a Contact set a password and sign in to the portal.

    Only the SHA-256 of the token is stored, so a database leak opens no accounts.
    A pending invitation past ``expires_at`` is expired whether or not a job has marked it.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="portal_invitations"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    sent_count = models.PositiveSmallIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one live link per contact: a resend replaces the token in place.
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(state="pending"),
                name="portal_invitation_one_pending_per_contact",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.contact_id} ({self.current_state})"

    @property
    def current_state(self) -> str:
        if self.state == self.State.PENDING and self.expires_at <= dj_timezone.now():
            return self.State.EXPIRED
        return self.state
