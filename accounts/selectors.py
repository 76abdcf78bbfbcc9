"""Reads of Accounts and Contacts, scoped by ``access``."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from access import policy
from accounts.models import Account, Contact, User

OPEN_STATUSES = ("new", "in_progress", "escalated", "waiting_on_customer")


def account_list_for_user(*, user: User, q: str = "") -> QuerySet[Account]:
    qs = policy.scope(user, "account", Account.objects.select_related("owner"))
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(domains__domain__icontains=q)).distinct()
    return qs.annotate(
        open_cases=Count("cases", filter=Q(cases__status__in=OPEN_STATUSES), distinct=True),
        contact_count=Count("contacts", distinct=True),
    ).order_by("name", "pk")


def account_get_for_user(*, user: User, pk: int) -> Account:
    qs = policy.scope(user, "account", Account.objects.select_related("owner"))
    try:
        return qs.prefetch_related("domains").get(pk=pk)
    except Account.DoesNotExist:
        raise Http404("No such account.") from None


def contact_list_for_user(
    *, user: User, q: str = "", account: Account | None = None
) -> QuerySet[Contact]:
    qs = policy.scope(user, "contact", Contact.objects.select_related("account", "user"))
    if account is not None:
        qs = qs.filter(account=account)
    if q:
        qs = qs.filter(
            Q(email__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(account__name__icontains=q)
        )
    return qs.order_by("last_name", "first_name", "pk")


def contact_get_for_user(*, user: User, pk: int) -> Contact:
    qs = policy.scope(user, "contact", Contact.objects.select_related("account", "user"))
    try:
        return qs.get(pk=pk)
    except Contact.DoesNotExist:
        raise Http404("No such contact.") from None
