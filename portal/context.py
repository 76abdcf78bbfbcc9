"""Branding for portal pages: name, logo and an accent colour that keeps AA contrast."""

from __future__ import annotations

import re

from django.http import HttpRequest
from django.urls import reverse

from portal.models import PortalSettings

_HEX = re.compile(r"^#[0-9a-f]{6}$")


def _luminance(hex_color: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _darken(hex_color: str, factor: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(int(c * factor) for c in (r, g, b)))


def readable_on_white(hex_color: str) -> str:
    """The accent itself if it reads on white at 4.5:1 (AA), else a darker shade of it."""
    color, steps = hex_color, 0
    while contrast(color, "#ffffff") < 4.5 and steps < 20:
        color, steps = _darken(color, 0.9), steps + 1
    return color


def branding(request: HttpRequest) -> dict[str, object]:
    # Only portal pages pay for the settings row (cached); the desk and admin do not.
    if not request.path.startswith("/portal/"):
        return {}
    conf = PortalSettings.load()
    accent = conf.accent
    if not _HEX.match(accent):
        accent = "#1d4ed8"
    link = readable_on_white(accent)
    # Buttons use the AA-safe shade so white button text always reads.
    return {
        "portal": {
            "name": conf.display_name,
            # Served by the portal itself; the version busts caches after an admin change.
            "logo_url": (
                f"{reverse('portal:logo')}?v={int(conf.updated_at.timestamp())}"
                if conf.logo and conf.updated_at
                else ""
            ),
            "accent": link,
            "accent_text": "#ffffff",
            "self_registration": conf.self_registration,
            "agent_names": conf.agent_name_style,
        }
    }
