"""Session policy on every request: timeouts, IP lock, login IP ranges and hours, MFA."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from access import policy
from access.models import AuditLog, UserSession
from lib.http import client_ip

SIGNED_IN_AT = "access.signed_in_at"
SIGNED_IN_IP = "access.ip"
LAST_SEEN = "access.seen"
MFA_OK = "access.mfa_ok"
REFUSED = "access.refused"

# Write "last seen" at most this often: a session write per request would cost a query.
SEEN_RESOLUTION_SECONDS = 60

# Where a user who must enrol in MFA may still go: allauth (MFA, sign-out) and assets.
_MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/media/")

_MESSAGES = {
    "idle": "You were signed out after a period of inactivity.",
    "expired": "Your session reached its maximum length. Please sign in again.",
    "ip_changed": "Your session was ended because your network address changed.",
    "ip_range": "Your network address is not allowed for your profile.",
    "login_hours": "Your profile does not allow access at this time.",
}


def start_session_policy(request: HttpRequest, user: object) -> None:
    """Stamp a new sign-in into the session (called when the user signs in).

    The backends already refuse a password sign-in from outside the profile's IP ranges
    or hours; a sign-in that did not pass them (a future one-time link or social login)
    is marked here and ended on its first request.
    """
    now = time.time()
    ip = client_ip(request)
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN] = now
    request.session[SIGNED_IN_IP] = ip
    eff = policy.effective(user)
    if not policy.ip_allowed(eff, ip):
        request.session[REFUSED] = "ip_range"
    elif not policy.within_login_hours(eff):
        request.session[REFUSED] = "login_hours"


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response = self.enforce(request)
            if response is not None:
                return response
        return self.get_response(request)

    def enforce(self, request: HttpRequest) -> HttpResponse | None:
        user = request.user
        eff = policy.effective(user)
        session = request.session
        now = time.time()
        ip = client_ip(request)
        if SIGNED_IN_AT not in session:
            # A session that predates the policy: treat this request as its start.
            start_session_policy(request, user)
        reason = session.get(REFUSED, "") or self.violation(eff, session, now, ip)
        if reason:
            return self.end(request, reason, ip)

        if now - session.get(LAST_SEEN, 0) > SEEN_RESOLUTION_SECONDS:
            session[LAST_SEEN] = now
            if session.session_key:
                UserSession.objects.filter(session_key=session.session_key).update(
                    last_seen_at=timezone.now(), ip=ip or None
                )

        if eff.mfa_required and not session.get(MFA_OK):
            if _has_totp(user):
                session[MFA_OK] = True
            elif not request.path.startswith(_MFA_EXEMPT_PREFIXES):
                messages.info(
                    request,
                    "Your profile requires two-factor authentication. "
                    "Set up an authenticator app to continue.",
                )
                return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return None

    @staticmethod
    def violation(eff: policy.Effective, session: SessionBase, now: float, ip: str) -> str:
        """Which session rule this request breaks, or ""."""
        if now - session[SIGNED_IN_AT] > eff.session_lifetime_hours * 3600:
            return "expired"
        if now - session.get(LAST_SEEN, now) > eff.idle_timeout_minutes * 60:
            return "idle"
        if eff.lock_session_to_ip and session.get(SIGNED_IN_IP) != ip:
            return "ip_changed"
        if eff.ip_check == "every_request" and not policy.ip_allowed(eff, ip):
            return "ip_range"
        if not policy.within_login_hours(eff):
            return "login_hours"
        return ""

    def end(self, request: HttpRequest, reason: str, ip: str) -> HttpResponse:
        from access.services import audit_record

        user = request.user
        key = request.session.session_key
        # Mark the row first: logout() below flushes the key.
        UserSession.objects.filter(session_key=key, ended_at__isnull=True).update(end_reason=reason)
        audit_record(
            action=AuditLog.Action.SESSION_ENDED,
            actor=user,
            ip=ip,
            target=user,
            detail=f"{reason}: session {(key or '')[:8]}",
        )
        request._access_end_reason = reason  # the logout receiver keeps this reason
        logout(request)
        messages.warning(request, _MESSAGES[reason])
        login = resolve_url(settings.LOGIN_URL)
        if request.method == "GET":
            login = f"{login}?{urlencode({'next': request.get_full_path()})}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login
            return response
        return HttpResponseRedirect(login)


def _has_totp(user: object) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
