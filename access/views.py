"""The user's own security page: active sessions, sign out the others."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from access import services
from access.models import UserSession
from lib.http import client_ip


@login_required
def session_list(request: HttpRequest) -> HttpResponse:
    sessions = services.user_sessions_active(user=request.user)
    return render(
        request,
        "access/sessions.html",
        {
            "sessions": sessions,
            "current_key": request.session.session_key,
        },
    )


@login_required
@require_POST
def session_end_others(request: HttpRequest) -> HttpResponse:
    ended = services.sessions_end_others(
        actor=request.user,
        user=request.user,
        keep_session_key=request.session.session_key,
        reason="signed out by the user",
        ip=client_ip(request),
    )
    messages.success(request, f"Signed out {ended} other session{'s' if ended != 1 else ''}.")
    return redirect("access:sessions")


@login_required
@require_POST
def session_end(request: HttpRequest, pk: int) -> HttpResponse:
    # Only one's own sessions; anyone else's is "not found", like a missing one.
    row = UserSession.objects.filter(pk=pk, user=request.user, ended_at__isnull=True).first()
    if row is None or row.session_key == request.session.session_key:
        raise Http404("No such session.")
    services.sessions_end(
        actor=request.user, sessions=[row], reason="signed out by the user", ip=client_ip(request)
    )
    messages.success(request, "Session signed out.")
    return redirect("access:sessions")
