"""One case in the desk: read it, edit it, answer it, move it along."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from access import policy
from access.forms import forbidden_changes_in, secure_form
from accounts.selectors import contact_get_for_user
from cases import services
from cases.forms import (
    ActivityForm,
    AssignForm,
    AttachmentForm,
    CaseCreateForm,
    CaseEditForm,
    CommentForm,
    StatusForm,
)
from cases.models import ALLOWED_TRANSITIONS, Case
from cases.selectors import (
    activity_get_for_user,
    case_attachments_for_user,
    case_get_for_user,
    case_timeline,
)
from cases.views.base import desk_view, form_errors, report
from lib.errors import DomainError


def _detail_url(case: Case) -> str:
    return reverse("desk:case-detail", args=[case.number])


def _render_detail(
    request: HttpRequest, case: Case, *, status: int = 200, **forms: object
) -> HttpResponse:
    user = request.user
    context = {
        "case": case,
        "timeline": case_timeline(user=user, case=case),
        "attachments": case_attachments_for_user(user=user, case=case),
        "edit_form": forms.get("edit_form") or CaseEditForm(user=user, case=case),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "activity_form": forms.get("activity_form") or ActivityForm(),
        "assign_form": AssignForm(initial={"owner": case.owner_id, "queue": case.queue_id}),
        "attachment_form": AttachmentForm(),
        "next_statuses": [
            (value, label)
            for value, label in Case.Status.choices
            if value in ALLOWED_TRANSITIONS[case.status]
        ],
        "can_edit": policy.can(user, "edit", "case", case),
        # Field-level security: hidden fields are not shown at all.
        "case_fields": set(policy.readable_fields(user, "case", ("priority", "description"))),
    }
    return render(request, "desk/case_detail.html", context, status=status)


@desk_view
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    return _render_detail(request, case)


@desk_view
def case_create(request: HttpRequest) -> HttpResponse:
    policy.check(request.user, "create", "case")
    initial = {}
    contact = None
    if request.GET.get("contact", "").isdigit():
        contact = contact_get_for_user(user=request.user, pk=int(request.GET["contact"]))
        initial["contact"] = contact.email
    form = secure_form(CaseCreateForm(request.POST or None, initial=initial), request.user, "case")
    refused = forbidden_changes_in(form, request.POST) if request.method == "POST" else []
    if refused:
        form.add_error(None, f"You may not change: {', '.join(refused)}. Nothing was saved.")
        return render(
            request, "desk/case_form.html", {"form": form, "contact": contact}, status=403
        )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            case = services.case_create(
                actor=request.user,
                subject=data["subject"],
                description=data["description"],
                contact=data["contact"],
                priority=data["priority"],
                type=data["type"],
                origin=data["origin"],
                queue=data["queue"],
                owner=data["owner"],
            )
        except (DomainError, PermissionDenied) as error:
            form.add_error(
                getattr(error, "field", None)
                if getattr(error, "field", None) in form.fields
                else None,
                str(error),
            )
        else:
            messages.success(request, f"Case {case.number} created.")
            return redirect(_detail_url(case))
    status = 400 if request.method == "POST" else 200
    return render(request, "desk/case_form.html", {"form": form, "contact": contact}, status=status)


@desk_view
@require_POST
def case_edit(request: HttpRequest, number: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    policy.check(request.user, "edit", "case", case)
    form = CaseEditForm(request.POST, user=request.user, case=case)
    if _posted_forbidden_fields(request, form):
        messages.error(
            request,
            "You may not change: "
            + ", ".join(_posted_forbidden_fields(request, form))
            + ". Nothing was saved.",
        )
        return _render_detail(request, case, status=403, edit_form=form)
    if not form.is_valid():
        return _render_detail(request, case, status=400, edit_form=form)
    try:
        services.case_update(actor=request.user, case=case, **form.changes())
    except DomainError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _render_detail(request, case, status=400, edit_form=form)
    messages.success(request, "Saved.")
    return redirect(_detail_url(case))


def _posted_forbidden_fields(request: HttpRequest, form: CaseEditForm) -> list[str]:
    """Fields in the POST the user may not edit, whose value differs from the current one.

    One rule everywhere (README, Security model): sending a hidden or read-only field
    with a new value is an error and nothing is saved; sending it unchanged is harmless.
    """
    forbidden = []
    for name, current in form.initial.items():
        if name not in request.POST:
            continue
        field = form.fields.get(name)
        if (field is None or field.disabled) and request.POST[name] != str(current or ""):
            forbidden.append(name)
    return forbidden


@desk_view
@require_POST
def case_status(request: HttpRequest, number: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    form = StatusForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
    else:
        try:
            case = services.case_change_status(
                actor=request.user, case=case, status=form.cleaned_data["status"]
            )
        except DomainError as error:
            report(request, error)
        else:
            messages.success(request, f"Status set to {case.get_status_display()}.")
    return redirect(_detail_url(case))


@desk_view
@require_POST
def case_assign(request: HttpRequest, number: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    if request.POST.get("to") == "me":
        changes = {"owner": request.user}
    else:
        form = AssignForm(request.POST)
        if not form.is_valid():
            form_errors(request, form)
            return redirect(_detail_url(case))
        changes = {"owner": form.cleaned_data["owner"], "queue": form.cleaned_data["queue"]}
    try:
        services.case_assign(actor=request.user, case=case, **changes)
    except DomainError as error:
        report(request, error)
    else:
        messages.success(request, "Assignment saved.")
    return redirect(_detail_url(case))


@desk_view
@require_POST
def case_comment(request: HttpRequest, number: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    form = CommentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_detail(request, case, status=400, comment_form=form)
    try:
        comment = services.comment_add(
            actor=request.user,
            case=case,
            body=form.cleaned_data["body"],
            is_public=form.is_public,
            files=form.cleaned_data["files"],
        )
    except DomainError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _render_detail(request, case, status=400, comment_form=form)
    messages.success(request, "Reply sent." if comment.is_public else "Note added.")
    return redirect(_detail_url(case) + f"#comment-{comment.pk}")


@desk_view
@require_POST
def case_attach(request: HttpRequest, number: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid() or not form.cleaned_data["files"]:
        messages.error(request, "Choose at least one file.")
        return redirect(_detail_url(case))
    try:
        for upload in form.cleaned_data["files"]:
            services.validate_upload(upload)
        for upload in form.cleaned_data["files"]:
            services.attachment_add(
                actor=request.user,
                case=case,
                upload=upload,
                is_public=not form.cleaned_data["internal"],
            )
    except DomainError as error:
        report(request, error)
        return redirect(_detail_url(case))
    messages.success(request, "File(s) attached.")
    return redirect(_detail_url(case) + "#files")


@desk_view
@require_POST
def case_activity(request: HttpRequest, number: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    form = ActivityForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, case, status=400, activity_form=form)
    data = form.cleaned_data
    try:
        services.activity_create(
            actor=request.user,
            case=case,
            kind=data["kind"],
            subject=data["subject"],
            description=data["description"],
            owner=data["owner"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            due_at=data["due_at"],
        )
    except DomainError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _render_detail(request, case, status=400, activity_form=form)
    messages.success(request, "Activity added.")
    return redirect(_detail_url(case))


@desk_view
@require_POST
def activity_done(request: HttpRequest, pk: int) -> HttpResponse:
    activity = activity_get_for_user(user=request.user, pk=pk)
    services.activity_complete(actor=request.user, activity=activity)
    messages.success(request, "Marked done.")
    return redirect(_detail_url(activity.case))
