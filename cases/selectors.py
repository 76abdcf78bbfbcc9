"""Every read the desk, portal and API make of cases, already scoped by ``access``.

Each list costs a fixed number of queries whatever its size: related rows are
joined (``select_related``) or fetched in one extra query (``prefetch_related``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db.models import Case as When_
from django.db.models import Count, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from access import policy
from accounts.models import User
from cases.models import Activity, Attachment, Case, CaseComment, CaseEvent, Queue

# Sort keys the list accepts, mapped to ORDER BY terms. Priority sorts by urgency, not name.
SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "-updated": ("-updated_at", "-id"),
    "updated": ("updated_at", "id"),
    "-priority": ("-priority_rank", "-created_at", "-id"),
    "priority": ("priority_rank", "-created_at", "-id"),
    "-number": ("-number",),
    "number": ("number",),
}
DEFAULT_SORT = "-created"

READY_VIEWS = {
    "my_open": "My open cases",
    "unassigned": "Unassigned",
    "all_open": "All open",
}

_PRIORITY_RANK = When_(
    When(priority=Case.Priority.LOW, then=Value(1)),
    When(priority=Case.Priority.MEDIUM, then=Value(2)),
    When(priority=Case.Priority.HIGH, then=Value(3)),
    When(priority=Case.Priority.URGENT, then=Value(4)),
    output_field=IntegerField(),
)


@dataclass(frozen=True)
class CaseFilters:
    """What a case list is narrowed by; every field is optional."""

    view: str = ""
    status_category: str = ""
    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    queue_id: int | None = None
    owner: str = ""  # "me", "unassigned" or a user id
    account_id: int | None = None
    contact_id: int | None = None
    created_from: date | None = None
    created_to: date | None = None
    q: str = ""
    sort: str = DEFAULT_SORT
    # True: open or waiting; False: resolved or closed (the portal's open/closed switch).
    is_open: bool | None = None


def case_base_queryset() -> QuerySet[Case]:
    return Case.objects.select_related("account", "contact", "owner", "queue")


def case_list_for_user(*, user: User, filters: CaseFilters | None = None) -> QuerySet[Case]:
    filters = filters or CaseFilters()
    qs = policy.scope(user, "case", case_base_queryset())
    open_statuses = [*Case.statuses_in("open"), *Case.statuses_in("waiting")]
    if filters.view == "my_open":
        qs = qs.filter(owner=user, status__in=open_statuses)
    elif filters.view == "unassigned":
        qs = qs.filter(owner__isnull=True, status__in=open_statuses)
    elif filters.view == "all_open":
        qs = qs.filter(status__in=open_statuses)
    if filters.status_category:
        qs = qs.filter(status__in=Case.statuses_in(filters.status_category))
    if filters.statuses:
        qs = qs.filter(status__in=filters.statuses)
    if filters.is_open is not None:
        lookup = Q(status__in=open_statuses)
        qs = qs.filter(lookup) if filters.is_open else qs.exclude(lookup)
    if filters.priorities:
        qs = qs.filter(priority__in=filters.priorities)
    if filters.origins:
        qs = qs.filter(origin__in=filters.origins)
    if filters.queue_id:
        qs = qs.filter(queue_id=filters.queue_id)
    if filters.owner == "me":
        qs = qs.filter(owner=user)
    elif filters.owner == "unassigned":
        qs = qs.filter(owner__isnull=True)
    elif filters.owner.isdigit():
        qs = qs.filter(owner_id=int(filters.owner))
    if filters.account_id:
        qs = qs.filter(account_id=filters.account_id)
    if filters.contact_id:
        qs = qs.filter(contact_id=filters.contact_id)
    if filters.created_from:
        qs = qs.filter(created_at__gte=_start_of(filters.created_from))
    if filters.created_to:
        qs = qs.filter(created_at__lt=_start_of(filters.created_to, days_after=1))
    if filters.q:
        qs = qs.filter(_search(filters.q))
    sort = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
    if "priority_rank" in " ".join(sort):
        qs = qs.annotate(priority_rank=_PRIORITY_RANK)
    return qs.order_by(*sort)


def _start_of(day: date, days_after: int = 0) -> datetime:
    moment = datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
    return moment + timezone.timedelta(days=days_after)


def _search(text: str) -> Q:
    text = text.strip()
    match = Q(subject__icontains=text) | Q(description__icontains=text)
    match |= Q(contact__email__icontains=text)
    digits = text.lstrip("#")
    if digits.isdigit():
        match |= Q(number=digits.zfill(8)) | Q(number__endswith=digits)
    return match


def case_get_for_user(*, user: User, number: str) -> Case:
    """The case with this number if the user may see it; 404 for missing and for not yours."""
    try:
        return policy.scope(user, "case", case_base_queryset()).get(number=number)
    except Case.DoesNotExist:
        raise Http404("No such case.") from None


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "comment", "event" or "activity"
    item: Any


# History kinds that the timeline shows through their own rows instead.
_EVENTS_SHOWN_ELSEWHERE = (
    CaseEvent.Kind.COMMENT_ADDED,
    CaseEvent.Kind.ACTIVITY_CREATED,
)


def case_timeline(*, user: User, case: Case) -> list[TimelineEntry]:
    """Comments, history and activities of one case, oldest first, as the user may see them."""
    comments = policy.scope(user, "comment", CaseComment.objects.filter(case=case))
    attachments = policy.scope(user, "attachment", Attachment.objects.all())
    comments = comments.select_related("author_user", "author_contact").prefetch_related(
        Prefetch("attachments", queryset=attachments)
    )
    entries = [TimelineEntry(c.created_at, "comment", c) for c in comments]
    if policy.is_agent(user):
        history = CaseEvent.objects.filter(case=case).exclude(kind__in=_EVENTS_SHOWN_ELSEWHERE)
        entries += [
            TimelineEntry(e.created_at, "event", e)
            for e in history.select_related("actor").exclude(kind=CaseEvent.Kind.ATTACHMENT_ADDED)
        ]
        activities = policy.scope(user, "activity", Activity.objects.filter(case=case))
        entries += [
            TimelineEntry(a.created_at, "activity", a) for a in activities.select_related("owner")
        ]
    entries.sort(key=lambda e: e.at)
    return entries


def case_attachments_for_user(*, user: User, case: Case) -> QuerySet[Attachment]:
    return policy.scope(user, "attachment", Attachment.objects.filter(case=case)).select_related(
        "uploaded_by"
    )


def attachment_get_for_user(*, user: User, pk: int) -> Attachment:
    qs = policy.scope(user, "attachment", Attachment.objects.select_related("case"))
    try:
        return qs.get(pk=pk)
    except Attachment.DoesNotExist:
        raise Http404("No such file.") from None


def activity_get_for_user(*, user: User, pk: int) -> Activity:
    qs = policy.scope(user, "activity", Activity.objects.select_related("case"))
    try:
        return qs.get(pk=pk)
    except Activity.DoesNotExist:
        raise Http404("No such activity.") from None


def open_case_counts_by_account(*, user: User, account_ids: list[int]) -> dict[int, int]:
    """Open cases per account that the user may see, for one page of accounts (one query)."""
    open_statuses = [*Case.statuses_in("open"), *Case.statuses_in("waiting")]
    rows = (
        policy.scope(user, "case", Case.objects.all())
        .filter(account_id__in=account_ids, status__in=open_statuses)
        .order_by()
        .values("account_id")
        .annotate(n=Count("pk"))
    )
    return {row["account_id"]: row["n"] for row in rows}


def agent_choices() -> QuerySet[User]:
    return User.objects.filter(is_staff=True, is_active=True).order_by("name", "email")


def queue_choices() -> QuerySet[Queue]:
    return Queue.objects.order_by("name")
