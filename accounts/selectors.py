"""Reads of Accounts and Contacts, scoped by ``access``."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from access import policy
from accounts.models import Account, Contact, User


def account_list_for_user(*, user: User, q: str = "") -> QuerySet[Account]:
    qs = policy.scope(user, "account", Account.objects.select_related("owner"))
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(domains__domain__icontains=q)).distinct()
    # A correlated count per row, not a join: joining cases and contacts together would
    # multiply them before counting and grow with the number of cases.
    contacts = (
        Contact.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.annotate(contact_count=Coalesce(Subquery(contacts), 0)).order_by("name", "pk")


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
