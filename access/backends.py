"""Authentication backends: lock-out (django-axes) and the profile's sign-in rules."""

from __future__ import annotations

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend
from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from access import policy
from access.models import AuditLog
from lib.http import client_ip


class LockoutBackend(AxesStandaloneBackend):
    """django-axes, for web sign-ins only.

    Axes refuses to run without a request; sign-ins without one (``Client.login`` in
    tests, scripts) come from no address that could be locked out, so they pass through.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> Any:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


class _SigninPolicyMixin:
    """Refuse a correct password from outside the profile's IP ranges or login hours.

    The refusal looks like any failed sign-in to the person trying (no hint which rule
    or whether the account exists); the audit log records the reason.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> Any:
        user = super().authenticate(request, *args, **kwargs)  # type: ignore[misc]
        if user is None or request is None:
            return user
        ip = client_ip(request)
        reason = policy.signin_refusal(user, ip)
        if reason:
            from access.services import audit_record

            audit_record(
                action=AuditLog.Action.SIGN_IN_REFUSED,
                actor=user,
                ip=ip,
                target=user,
                detail=reason,
            )
            # PermissionDenied stops the other backends from trying the same password.
            raise PermissionDenied(reason)
        return user


class PolicyModelBackend(_SigninPolicyMixin, ModelBackend):
    """Django's backend (admin sign-in) with the profile's sign-in rules."""


class PolicyAllauthBackend(_SigninPolicyMixin, AuthenticationBackend):
    """allauth's backend (email sign-in) with the profile's sign-in rules."""


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account a sign-in attempt names, whichever form field carried it."""
    credentials = credentials or {}
    name = credentials.get("email") or credentials.get("username") or ""
    if not name and request is not None and request.method == "POST":
        name = request.POST.get("login") or request.POST.get("username") or ""
    return str(name).strip().lower()
