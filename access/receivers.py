"""Receivers of Django's, allauth's and axes' signals. Each only calls a service."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import password_changed, password_reset, password_set
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from access import services
from access.middleware import MFA_OK, start_session_policy
from access.models import AuditLog
from lib.http import client_ip


def _ip(request: Any) -> str | None:
    return client_ip(request) if request is not None else None


@receiver(user_logged_in, dispatch_uid="access.signed_in")
def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    start_session_policy(request, user)
    if request.session.session_key is None:
        request.session.save()
    services.signin_recorded(
        user=user,
        session_key=request.session.session_key,
        ip=_ip(request) or "",
        user_agent=request.headers.get("User-Agent", ""),
    )


@receiver(user_logged_out, dispatch_uid="access.signed_out")
def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None or user is None:
        return
    reason = getattr(request, "_access_end_reason", "") or "signed out"
    services.signout_recorded(
        user=user,
        session_key=request.session.session_key,
        ip=_ip(request),
        reason=reason,
        audit=reason == "signed out",
    )


@receiver(user_login_failed, dispatch_uid="access.sign_in_failed")
def _sign_in_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    name = credentials.get("email") or credentials.get("username") or ""
    services.audit_record(
        action=AuditLog.Action.SIGN_IN_FAILED,
        ip=_ip(request),
        target_type="sign-in",
        target_label=str(name),
    )


@receiver(user_locked_out, dispatch_uid="access.locked_out")
def _locked_out(
    sender: Any, request: Any, username: str | None = None, ip_address: str = "", **kwargs: Any
) -> None:
    services.audit_record(
        action=AuditLog.Action.LOCKED_OUT,
        ip=_ip(request) or ip_address,
        target_type="sign-in",
        target_label=username or "",
        detail="too many failed sign-ins from this address",
    )


@receiver(password_changed, dispatch_uid="access.password_changed")
@receiver(password_set, dispatch_uid="access.password_set")
@receiver(password_reset, dispatch_uid="access.password_reset")
def _password_changed(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    keep = session.session_key if session is not None and request.user == user else None
    services.password_changed_recorded(user=user, keep_session_key=keep, ip=_ip(request))


@receiver(authenticator_added, dispatch_uid="access.mfa_added")
@receiver(authenticator_removed, dispatch_uid="access.mfa_removed")
@receiver(authenticator_reset, dispatch_uid="access.mfa_reset")
def _mfa_changed(
    sender: Any, request: Any, user: Any, authenticator: Any, signal: Any, **kwargs: Any
) -> None:
    verb = {authenticator_added: "added", authenticator_removed: "removed"}.get(signal, "reset")
    if request is not None and verb != "added" and hasattr(request, "session"):
        request.session.pop(MFA_OK, None)
    services.audit_record(
        action=AuditLog.Action.MFA_CHANGED,
        actor=user,
        ip=_ip(request),
        target=user,
        detail=f"{authenticator.type} {verb}",
    )
