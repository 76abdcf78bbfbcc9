"""Customer portal pages. Thin: every read is a ``cases.selectors`` call scoped by
``access``, every write a service; the portal decides nothing about who sees what.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from access import policy
from accounts import invitations
from accounts.models import Contact, PortalInvitation
from cases import selectors
from cases import services as case_services
from cases.models import Case, CaseSatisfaction
from cases.satisfaction import case_rate
from lib.errors import DomainError
from portal import forms
from portal import services as portal_services
from portal.models import PortalSettings

# The fields of a case a customer might be shown; FLS narrows them per user.
CASE_READ_FIELDS = (
    "subject",
    "description",
    "status",
    "priority",
    "type",
    "owner",
    "created_at",
    "updated_at",
)
HOME_LIMIT = 10


def portal_login_url(request: HttpRequest) -> str:
    return f"{reverse('portal:login')}?next={request.get_full_path()}"


def _sign_in(request: HttpRequest, email: str, password: str) -> HttpResponse:
    """Sign in through the configured backends, so lock-out and login IP ranges still apply."""
    user = authenticate(request, username=email, password=password)
    if user is None:
        messages.info(request, "Your password is set. Please sign in.")
        return redirect("portal:login")
    login(request, user)
    return redirect("portal:home")


def customer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in portal users only; agents go to the desk. Times in the contact's zone."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return HttpResponseRedirect(portal_login_url(request))
        if policy.is_agent(user):
            return HttpResponseRedirect("/desk/")
        contact = policy.portal_contact(user)
        if contact is None:
            raise PermissionDenied("This login is not linked to a customer contact.")
        request.contact = contact
        try:
            zone = zoneinfo.ZoneInfo(contact.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo("UTC")
        with (
            timezone.override(zone),
            translation.override(contact.language or settings.LANGUAGE_CODE),
        ):
            response = view(request, *args, **kwargs)
            # Templates render lazily: render now so the zone and language apply.
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            return response

    return wrapper


def _base_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    contact = request.contact
    return {
        "contact": contact,
        "is_manager": policy.is_account_manager(request.user),
        "account_name": contact.account.name if contact.account_id else "",
        **extra,
    }


def _render(request: HttpRequest, template: str, status: int = 200, **extra: Any) -> HttpResponse:
    return render(request, template, _base_context(request, **extra), status=status)


# -- home and lists ------------------------------------------------------------------------


@require_GET
@customer_required
def home(request: HttpRequest) -> HttpResponse:
    contact = request.contact
    mine_open = selectors.case_list_for_user(
        user=request.user,
        filters=selectors.CaseFilters(contact_id=contact.pk, is_open=True, sort="-updated"),
    )
    cases = list(mine_open[:HOME_LIMIT])
    waiting = [c for c in cases if c.status == Case.Status.WAITING_ON_CUSTOMER]
    others = [c for c in cases if c.status != Case.Status.WAITING_ON_CUSTOMER]
    return _render(
        request,
        "portal/home.html",
        waiting=waiting,
        others=others,
        open_count=mine_open.count(),
    )


@require_GET
@customer_required
def case_list(request: HttpRequest) -> HttpResponse:
    contact = request.contact
    is_manager = policy.is_account_manager(request.user)
    scope = request.GET.get("scope", "mine")
    if scope != "account" or not is_manager:
        scope = "mine"
    state = request.GET.get("state", "open")
    if state not in ("open", "closed", "all"):
        state = "open"
    q = request.GET.get("q", "").strip()[:100]
    filters = selectors.CaseFilters(
        contact_id=contact.pk if scope == "mine" else None,
        is_open={"open": True, "closed": False}.get(state),
        q=q,
        sort="-updated",
    )
    qs = selectors.case_list_for_user(user=request.user, filters=filters)
    page = Paginator(qs, settings.PORTAL_PAGE_SIZE).get_page(request.GET.get("page"))
    query = {"scope": scope, "state": state, "q": q}
    return _render(
        request,
        "portal/case_list.html",
        page=page,
        scope=scope,
        state=state,
        q=q,
        query=query,
    )


# -- filing a case -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@customer_required
def case_create(request: HttpRequest) -> HttpResponse:
    form = forms.CaseCreateForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            case = _file_case(request, data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Thank you. Your case #{case.number} has been received.")
            return redirect("portal:case-detail", number=case.number)
    status = 400 if form.errors else 200
    return _render(request, "portal/case_create.html", form=form, status=status)


def _file_case(request: HttpRequest, data: dict[str, Any]) -> Case:
    extra = {k: data[k] for k in ("type", "priority") if k in data}
    # One transaction: a refused attachment leaves no half-filed case behind.
    with transaction.atomic():
        case = case_services.case_create(
            actor=request.user,
            subject=data["subject"],
            description=data["description"],
            contact=request.contact,
            origin=Case.Origin.PORTAL,
            **extra,
        )
        for upload in data.get("files") or []:
            case_services.attachment_add(actor=request.user, case=case, upload=upload)
    return case


# -- one case -------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, case: Case, **extra: Any) -> dict[str, Any]:
    user = request.user
    readable = set(policy.readable_fields(user, "case", CASE_READ_FIELDS))
    timeline = selectors.case_timeline(user=user, case=case)
    comments = [entry.item for entry in timeline if entry.kind == "comment"]
    attachments = list(selectors.case_attachments_for_user(user=user, case=case))
    rating = CaseSatisfaction.objects.filter(case=case).first() if not case.is_open else None
    return {
        "case": case,
        "readable": readable,
        "comments": comments,
        "attachments": attachments,
        "steps": _steps(case),
        "can_reopen": portal_services.can_reopen(case),
        "grace_days": settings.PORTAL_REOPEN_GRACE_DAYS,
        "rating": rating,
        "reply_form": extra.pop("reply_form", None) or forms.ReplyForm(),
        "rate_form": extra.pop("rate_form", None) or forms.RateForm(),
        "owner_name": _owner_name(case) if "owner" in readable else "",
        "parent": _visible_parent(user, case),
        **extra,
    }


def _visible_parent(user: Any, case: Case) -> Case | None:
    """The case this one follows up, only if the customer may see it (an agent may have
    linked a case of another account; its number must not leak)."""
    if not case.parent_id:
        return None
    number = Case.objects.filter(pk=case.parent_id).values_list("number", flat=True).first()
    if number is None:
        return None
    try:
        return selectors.case_get_for_user(user=user, number=number)
    except Http404:
        return None


def _owner_name(case: Case) -> str:
    from portal.templatetags.portal_tags import agent_display_name

    return agent_display_name(case.owner) if case.owner_id else ""


def _steps(case: Case) -> list[dict[str, Any]]:
    """The case's path as a customer sees it: received, being worked on, resolved, closed."""
    s = Case.Status
    order = {
        s.NEW: 0,
        s.IN_PROGRESS: 1,
        s.ESCALATED: 1,
        s.WAITING_ON_CUSTOMER: 1,
        s.RESOLVED: 2,
        s.CLOSED: 3,
    }
    at = order[case.status]
    working_label = "Waiting on you" if case.status == s.WAITING_ON_CUSTOMER else "In progress"
    steps = [
        ("Received", case.created_at),
        (working_label, case.first_response_at),
        ("Resolved", case.resolved_at),
        ("Closed", case.closed_at),
    ]
    return [
        {
            "label": label,
            "at": when if i <= at else None,
            "state": "done" if i < at else ("current" if i == at else "todo"),
        }
        for i, (label, when) in enumerate(steps)
    ]


@require_GET
@customer_required
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    return render(
        request, "portal/case_detail.html", _base_context(request, **_detail_context(request, case))
    )


@require_POST
@customer_required
def case_reply(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    form = forms.ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            landed, is_new = portal_services.portal_reply(
                actor=request.user,
                case=case,
                body=form.cleaned_data["body"],
                files=form.cleaned_data["files"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            if is_new:
                messages.success(
                    request,
                    f"Case #{case.number} was closed too long ago to reopen, so your reply "
                    f"opened a new case, #{landed.number}, linked to it.",
                )
            else:
                messages.success(request, "Your reply has been sent.")
            return redirect("portal:case-detail", number=landed.number)
    ctx = _base_context(request, **_detail_context(request, case, reply_form=form))
    return render(request, "portal/case_detail.html", ctx, status=400)


@require_POST
@customer_required
def case_close(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    portal_services.portal_case_close(actor=request.user, case=case)
    messages.success(request, f"Case #{case.number} is closed. Glad it's sorted.")
    return redirect("portal:case-detail", number=case.number)


@require_POST
@customer_required
def case_reopen(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    try:
        portal_services.portal_case_reopen(actor=request.user, case=case)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Case #{case.number} is open again.")
    return redirect("portal:case-detail", number=case.number)


@require_POST
@customer_required
def case_rate_view(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    form = forms.RateForm(request.POST)
    if form.is_valid():
        try:
            case_rate(
                actor=request.user,
                case=case,
                rating=form.cleaned_data["rating"],
                comment=form.cleaned_data["comment"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Thank you for your feedback.")
            return redirect("portal:case-detail", number=case.number)
    ctx = _base_context(request, **_detail_context(request, case, rate_form=form))
    return render(request, "portal/case_detail.html", ctx, status=400)


# -- profile --------------------------------------------------------------------------------


def _optional_url(*names: str) -> str:
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return ""


@require_http_methods(["GET", "POST"])
@customer_required
def profile(request: HttpRequest) -> HttpResponse:
    contact = request.contact
    form = forms.ProfileForm.for_contact(contact, request.POST or None)
    if request.method == "POST" and form.is_valid():
        portal_services.portal_profile_update(actor=request.user, **form.cleaned_data)
        messages.success(request, "Your profile is saved.")
        return redirect("portal:profile")
    return _render(
        request,
        "portal/profile.html",
        form=form,
        status=400 if form.errors else 200,
        password_url=reverse("portal:password-change"),
        mfa_url=_optional_url("mfa_index"),
        sessions_url=_optional_url("access:sessions", "access:session-list", "sessions"),
        email_url=reverse("portal:email-change"),
    )


# -- getting in: invitations and self-registration ---------------------------------------------


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitations.invitation_from_token(token)
    if invitation is None:
        return render(request, "portal/invitation_invalid.html", status=404)
    form = forms.SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.invitation_accept(
                token=token, password=form.cleaned_data["password1"]
            )
        except DomainError as exc:
            form.add_error("password1" if exc.field == "password1" else None, exc.message)
        else:
            messages.success(request, "Welcome! Your password is set.")
            return _sign_in(request, user.email, form.cleaned_data["password1"])
    return render(
        request,
        "portal/invitation_accept.html",
        {"form": form, "invitation": invitation},
        status=400 if form.errors else 200,
    )


def _agent_contact(request: HttpRequest, contact_id: int) -> Contact:
    if not policy.is_agent(request.user):
        raise PermissionDenied
    contact = get_object_or_404(
        policy.scope(request.user, "contact", Contact.objects.select_related("user")),
        pk=contact_id,
    )
    return contact


def _back_to_contact(request: HttpRequest, contact: Contact) -> HttpResponse:
    try:
        return redirect("desk:contact-detail", pk=contact.pk)
    except NoReverseMatch:
        return redirect(f"/admin/accounts/contact/{contact.pk}/change/")


@require_POST
def invitation_send(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Agents only: invite the contact to the portal, or resend a pending invitation."""
    if not request.user.is_authenticated:
        return HttpResponseRedirect(f"{reverse('account_login')}?next=/desk/")
    contact = _agent_contact(request, contact_id)
    try:
        invitation = invitations.invitation_send(actor=request.user, contact=contact)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        verb = "resent" if invitation.sent_count > 1 else "sent"
        messages.success(request, f"Portal invitation {verb} to {contact.email}.")
    return _back_to_contact(request, contact)


@require_POST
def invitation_revoke(request: HttpRequest, contact_id: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect(f"{reverse('account_login')}?next=/desk/")
    contact = _agent_contact(request, contact_id)
    pending = contact.portal_invitations.filter(state=PortalInvitation.State.PENDING).first()
    if pending is not None:
        invitations.invitation_revoke(actor=request.user, invitation=pending)
        messages.success(request, f"The portal invitation to {contact.email} is revoked.")
    return _back_to_contact(request, contact)


def _registration_open() -> bool:
    return PortalSettings.load().self_registration


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if not _registration_open():
        return render(request, "portal/register_closed.html", status=404)
    form = forms.RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        portal_services.registration_request(email=form.cleaned_data["email"])
        return render(request, "portal/register_sent.html", {"email": form.cleaned_data["email"]})
    return render(
        request, "portal/register.html", {"form": form}, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
def register_complete(request: HttpRequest, token: str) -> HttpResponse:
    if not _registration_open():
        return render(request, "portal/register_closed.html", status=404)
    email = portal_services.registration_email(token)
    if email is None:
        return render(request, "portal/invitation_invalid.html", status=404)
    contact, domain = portal_services.registration_match(email)
    refusal = ""
    if contact is None and domain is None:
        refusal = (
            "We could not match this email to any of our customers, so we cannot "
            "open an account for it. Please contact support."
        )
    elif contact is not None and contact.user_id:
        refusal = "This email already has an account. Sign in or reset your password."
    form = forms.RegisterCompleteForm(
        request.POST or None,
        initial={
            "first_name": contact.first_name if contact else "",
            "last_name": contact.last_name if contact else "",
        },
    )
    if request.method == "POST" and not refusal and form.is_valid():
        data = form.cleaned_data
        try:
            user = portal_services.registration_complete(
                email=email,
                first_name=data["first_name"],
                last_name=data["last_name"],
                password=data["password1"],
            )
        except DomainError as exc:
            form.add_error("password1" if exc.field == "password1" else None, exc.message)
        else:
            messages.success(request, "Welcome! Your account is ready.")
            return _sign_in(request, user.email, data["password1"])
    return render(
        request,
        "portal/register_complete.html",
        {"form": form, "email": email, "refusal": refusal},
        status=400 if form.errors or refusal else 200,
    )


@require_http_methods(["GET", "POST"])
@customer_required
def email_change(request: HttpRequest) -> HttpResponse:
    form = forms.EmailChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            portal_services.email_change_request(
                actor=request.user, new_email=form.cleaned_data["email"]
            )
        except DomainError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(
                request,
                f"We sent a link to {form.cleaned_data['email']}. Open it to finish the change.",
            )
            return redirect("portal:profile")
    return _render(
        request, "portal/email_change.html", form=form, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
@customer_required
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    new_email = portal_services.email_change_pending(token, request.user)
    if request.method == "POST" and new_email:
        try:
            portal_services.email_change_confirm(actor=request.user, token=token)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Your email address is now {new_email}.")
        return redirect("portal:profile")
    # GET only shows the question: mail scanners that open links change nothing.
    return _render(
        request,
        "portal/email_change_confirm.html",
        new_email=new_email,
        status=200 if new_email else 404,
    )


@require_GET
def logo(request: HttpRequest) -> HttpResponse:
    """The portal logo from the admin, served here because media files are not served.

    Only real images (sniffed from the bytes) go out, with nosniff, so an uploaded file
    can never be served as a page.
    """
    from django.http import FileResponse

    from lib.files import INLINE_SAFE_TYPES, sniff_content_type

    conf = PortalSettings.load()
    if not conf.logo:
        raise Http404("No logo.")
    handle = conf.logo.open("rb")
    kind = sniff_content_type(handle.read(8192))
    handle.seek(0)
    if kind not in INLINE_SAFE_TYPES:
        handle.close()
        raise Http404("No logo.")
    response = FileResponse(handle, content_type=kind)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=3600"
    return response
