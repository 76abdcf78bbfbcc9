"""The portal's own settings: branding and the switches an admin flips without a deploy.

One row (pk 1). Values left blank fall back to the ``PORTAL_*`` settings, so a fresh
install looks right before anyone opens the admin.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.validators import FileExtensionValidator, RegexValidator
from django.db import models

CACHE_KEY = "portal:settings:v1"


class PortalSettings(models.Model):
    class AgentNames(models.TextChoices):
        FULL = "full", "Full name (Alex Agent)"
        FIRST = "first", "First name only (Alex)"

    name = models.CharField(
        "portal name",
        max_length=80,
        blank=True,
        help_text="Shown in the header and page titles. Blank: the PORTAL_NAME setting.",
    )
    logo = models.FileField(
        upload_to="portal/",
        blank=True,
        # No SVG: an SVG is a document that can carry script.
        validators=[FileExtensionValidator(["png", "jpg", "jpeg", "webp", "gif"])],
        help_text="PNG, JPEG, WebP or GIF, shown at 32 px high in the header.",
    )
    accent_color = models.CharField(
        max_length=7,
        blank=True,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1d4ed8.")],
        help_text="Buttons and links. Blank: the PORTAL_ACCENT_COLOR setting.",
    )
    agent_names = models.CharField(
        "agent names shown to customers",
        max_length=5,
        choices=AgentNames.choices,
        blank=True,
        help_text="Blank: the PORTAL_AGENT_NAMES setting.",
    )
    self_registration = models.BooleanField(
        "allow self-registration",
        default=False,
        help_text="People with a known email or an email at an account's domain may sign "
        "themselves up after verifying their address.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "portal settings"
        verbose_name_plural = "portal settings"

    def __str__(self) -> str:
        return "Portal settings"

    @classmethod
    def load(cls) -> PortalSettings:
        """The settings row, cached; an unsaved default when the admin never saved one."""
        found = cache.get(CACHE_KEY)
        if found is None:
            found = cls.objects.filter(pk=1).first() or cls(pk=1)
            cache.set(CACHE_KEY, found, 300)
        return found

    @staticmethod
    def forget() -> None:
        cache.delete(CACHE_KEY)

    @property
    def display_name(self) -> str:
        return self.name or settings.PORTAL_NAME

    @property
    def accent(self) -> str:
        return (self.accent_color or settings.PORTAL_ACCENT_COLOR).lower()

    @property
    def agent_name_style(self) -> str:
        return self.agent_names or settings.PORTAL_AGENT_NAMES
