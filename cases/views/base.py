"""What every desk view shares: who may enter, and how refusals are shown."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from access import policy
from lib.errors import DomainError

View = Callable[..., HttpResponse]


def desk_view(view: View) -> View:
    """Agents only: anonymous users go to sign-in, everyone else is refused."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not policy.is_agent(request.user):
            if policy.portal_contact(request.user) is not None:
                # A customer who followed a desk link belongs in the portal.
                return redirect("portal:home")
            raise PermissionDenied("The desk is for agents.")
        return view(request, *args, **kwargs)

    return wrapper


def report(request: HttpRequest, error: DomainError | PermissionDenied) -> None:
    messages.error(request, getattr(error, "message", None) or str(error) or "Not allowed.")


def form_errors(request: HttpRequest, form: Any) -> None:
    """Put a form's errors in the message area (for small side-panel forms)."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label or field}: {error}" if field != "__all__" else error)
