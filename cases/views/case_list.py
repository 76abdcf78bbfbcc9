"""The desk's case list: ready views, filters, search, sort, pagination and bulk actions."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from access import policy
from cases import services
from cases.forms import BulkForm, CaseFilterForm
from cases.models import Case
from cases.selectors import READY_VIEWS, agent_choices, case_list_for_user
from cases.views.base import desk_view, form_errors

LIST_FIELDS = ("priority", "account", "owner")


@desk_view
def case_list(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    if not request.GET:
        params["view"] = "all_open"  # the default view an agent lands on
    agents = [(str(a.pk), str(a)) for a in agent_choices()]
    form = CaseFilterForm(params, agents=agents)
    form.limit_to(request.user)
    filters = form.to_filters()
    cases = case_list_for_user(user=request.user, filters=filters)
    page = Paginator(cases, settings.CASES_PAGE_SIZE).get_page(request.GET.get("page"))
    query = params.copy()
    query.pop("page", None)
    status_labels = dict(Case.Status.choices)
    priority_labels = dict(Case.Priority.choices)
    context = {
        "form": form,
        "sidebar": form.sidebar(),
        "page": page,
        "cases": page.object_list,
        # Rows link by string, not one reverse() each; labels come from plain dicts.
        "detail_base": reverse("desk:case-detail", args=["0"])[:-2],
        "rows": [
            (case, status_labels[case.status], priority_labels[case.priority])
            for case in page.object_list
        ],
        "ready_views": READY_VIEWS,
        "current_view": filters.view,
        "query": query.urlencode(),
        "agents": agents,
        "can_bulk": policy.has_system_permission(request.user, "bulk_actions"),
        # Field-level security: hidden fields are no column either.
        "case_fields": set(policy.readable_fields(request.user, "case", LIST_FIELDS)),
        "statuses": Case.Status.choices,
    }
    template = (
        "desk/_case_results.html"
        if request.htmx and not request.htmx.boosted
        else ("desk/case_list.html")
    )
    return render(request, template, context)


@desk_view
@require_POST
def case_bulk(request: HttpRequest) -> HttpResponse:
    policy.check_system_permission(request.user, "bulk_actions")
    form = BulkForm(request.POST)
    back = request.POST.get("next") or "desk:case-list"
    if not form.is_valid():
        form_errors(request, form)
        return redirect(_safe_back(back))
    cases = case_list_for_user(user=request.user).filter(number__in=form.cleaned_data["numbers"])
    if form.cleaned_data["action"] == "assign":
        result = services.case_bulk_assign(actor=request.user, cases=cases, owner=form.owner_user())
    else:
        result = services.case_bulk_change_status(
            actor=request.user, cases=cases, status=form.cleaned_data["status"]
        )
    if result.changed:
        messages.success(request, f"Updated {len(result.changed)} case(s).")
    for number, reason in result.skipped.items():
        messages.warning(request, f"{number} skipped: {reason}")
    return redirect(_safe_back(back))


def _safe_back(target: str) -> str:
    # Only our own list URLs: never an open redirect.
    return target if target.startswith("/desk/") and "//" not in target else "desk:case-list"
