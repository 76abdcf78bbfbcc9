"""Accounts and contacts in the desk (the desk lives in ``cases``; ``accounts`` owns the data)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from access import policy
from access.forms import forbidden_changes_in, secure_form
from accounts import services
from accounts.forms import AccountForm, ContactForm
from accounts.selectors import (
    account_get_for_user,
    account_list_for_user,
    contact_get_for_user,
    contact_list_for_user,
)
from cases.selectors import CaseFilters, case_list_for_user, open_case_counts_by_account
from cases.views.base import desk_view
from lib.errors import DomainError

PAGE_SIZE = 50
ACCOUNT_SHOWN = ("tier", "owner", "phone", "website", "billing_street", "is_active")
CONTACT_SHOWN = ("email", "phone", "title", "account", "timezone")
RECENT_CASES = 20


def _query(q: str) -> str:
    return urlencode({"q": q}) if q else ""


def _save(request: HttpRequest, form, save) -> HttpResponse | None:
    """Run a service with a valid form's values; put domain errors back on the form."""
    if request.method != "POST":
        return None
    refused = forbidden_changes_in(form, request.POST, request.FILES)
    if refused:
        # One rule everywhere (README, Security model): nothing of this POST is saved.
        form.add_error(None, f"You may not change: {', '.join(refused)}. Nothing was saved.")
        return _form_page(request, form, "Not saved", status=403)
    if not form.is_valid():
        return None
    try:
        return save()
    except (DomainError, PermissionDenied) as error:
        field = getattr(error, "field", None)
        form.add_error(field if field in form.fields else None, str(error))
        return None


@desk_view
def account_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    page = Paginator(account_list_for_user(user=request.user, q=q), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    counts = open_case_counts_by_account(user=request.user, account_ids=[a.pk for a in page])
    for account in page:
        account.open_cases = counts.get(account.pk, 0)
    return render(request, "desk/account_list.html", {"page": page, "q": q, "query": _query(q)})


@desk_view
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get_for_user(user=request.user, pk=pk)
    cases = case_list_for_user(user=request.user, filters=CaseFilters(account_id=account.pk))
    contacts = contact_list_for_user(user=request.user, account=account)
    return render(
        request,
        "desk/account_detail.html",
        {
            "account": account,
            # Field-level security: hidden fields are not shown.
            "fields": set(policy.readable_fields(request.user, "account", ACCOUNT_SHOWN)),
            "cases": cases[:RECENT_CASES],
            "case_count": cases.count(),
            "contacts": contacts[:100],
        },
    )


@desk_view
def account_create(request: HttpRequest) -> HttpResponse:
    policy.check(request.user, "create", "account")
    form = secure_form(AccountForm(request.POST or None), request.user, "account")

    def save() -> HttpResponse:
        account = services.account_create(
            actor=request.user, domains=form.cleaned_data["domains"], **form.values()
        )
        messages.success(request, f"Account {account} created.")
        return redirect(reverse("desk:account-detail", args=[account.pk]))

    return _save(request, form, save) or _form_page(request, form, "New account")


@desk_view
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get_for_user(user=request.user, pk=pk)
    policy.check(request.user, "edit", "account", account)
    form = secure_form(AccountForm(request.POST or None, instance=account), request.user, "account")

    def save() -> HttpResponse:
        # The form wrote the values onto the instance; the service compares against the
        # row as stored, so give it a fresh copy.
        fresh = account_get_for_user(user=request.user, pk=pk)
        services.account_update(
            actor=request.user, account=fresh, domains=form.cleaned_data["domains"], **form.values()
        )
        messages.success(request, "Saved.")
        return redirect(reverse("desk:account-detail", args=[pk]))

    return _save(request, form, save) or _form_page(request, form, f"Edit {account}")


@desk_view
def contact_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    page = Paginator(contact_list_for_user(user=request.user, q=q), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "desk/contact_list.html", {"page": page, "q": q, "query": _query(q)})


@desk_view
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contact_get_for_user(user=request.user, pk=pk)
    cases = case_list_for_user(user=request.user, filters=CaseFilters(contact_id=contact.pk))
    return render(
        request,
        "desk/contact_detail.html",
        {
            "contact": contact,
            "fields": set(policy.readable_fields(request.user, "contact", CONTACT_SHOWN)),
            "cases": cases[:RECENT_CASES],
            "case_count": cases.count(),
        },
    )


@desk_view
def contact_create(request: HttpRequest) -> HttpResponse:
    policy.check(request.user, "create", "contact")
    initial = {}
    if request.GET.get("account", "").isdigit():
        initial["account"] = account_get_for_user(user=request.user, pk=int(request.GET["account"]))
    form = secure_form(ContactForm(request.POST or None, initial=initial), request.user, "contact")

    def save() -> HttpResponse:
        contact = services.contact_create(actor=request.user, **form.values())
        messages.success(request, f"Contact {contact} created.")
        return redirect(reverse("desk:contact-detail", args=[contact.pk]))

    return _save(request, form, save) or _form_page(request, form, "New contact")


@desk_view
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contact_get_for_user(user=request.user, pk=pk)
    policy.check(request.user, "edit", "contact", contact)
    form = secure_form(ContactForm(request.POST or None, instance=contact), request.user, "contact")

    def save() -> HttpResponse:
        fresh = contact_get_for_user(user=request.user, pk=pk)
        services.contact_update(actor=request.user, contact=fresh, **form.values())
        messages.success(request, "Saved.")
        return redirect(reverse("desk:contact-detail", args=[pk]))

    return _save(request, form, save) or _form_page(request, form, f"Edit {contact}")


def _form_page(request: HttpRequest, form, title: str, status: int | None = None) -> HttpResponse:
    status = status or (400 if request.method == "POST" else 200)
    return render(request, "desk/simple_form.html", {"form": form, "title": title}, status=status)
