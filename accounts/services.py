"""Writes to Accounts and Contacts. Each checks access and runs in one transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from access import policy
from accounts.models import Account, AccountDomain, Contact, User
from lib import events
from lib.errors import DomainError

ACCOUNT_FIELDS = (
    "name",
    "tier",
    "phone",
    "website",
    "billing_street",
    "billing_city",
    "billing_state",
    "billing_postal_code",
    "billing_country",
    "owner",
    "is_active",
)
CONTACT_FIELDS = (
    "account",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "timezone",
    "portal_role",
)


def normalise_domains(domains: list[str] | str) -> list[str]:
    if isinstance(domains, str):
        domains = domains.replace(",", "\n").splitlines()
    cleaned = []
    for raw in domains:
        domain = raw.strip().lower().lstrip("@")
        if domain and domain not in cleaned:
            cleaned.append(domain)
    return cleaned


def _set_domains(account: Account, domains: list[str]) -> None:
    taken = AccountDomain.objects.filter(domain__in=domains).exclude(account=account)
    if taken.exists():
        names = ", ".join(sorted(d.domain for d in taken))
        raise DomainError(f"Already used by another account: {names}.", field="domains")
    account.domains.exclude(domain__in=domains).delete()
    existing = set(account.domains.values_list("domain", flat=True))
    AccountDomain.objects.bulk_create(
        AccountDomain(account=account, domain=d) for d in domains if d not in existing
    )


def _apply(
    actor: User, obj_type: str, instance: Any, allowed: tuple[str, ...], values: dict[str, Any]
) -> list[str]:
    unknown = set(values) - set(allowed)
    if unknown:
        raise DomainError(f"These fields cannot be set here: {', '.join(sorted(unknown))}.")
    editable = set(policy.editable_fields(actor, obj_type, allowed))
    changed = []
    for name, value in values.items():
        if getattr(instance, name) == value:
            continue
        if name not in editable:
            raise DomainError(f"You may not change {name.replace('_', ' ')}.", field=name)
        setattr(instance, name, value)
        changed.append(name)
    return changed


@transaction.atomic
def account_create(*, actor: User, domains: list[str] | str = (), **values: Any) -> Account:
    policy.check(actor, "create", "account")
    account = Account()
    _apply(actor, "account", account, ACCOUNT_FIELDS, values)
    account.full_clean()
    account.save()
    _set_domains(account, normalise_domains(domains))
    events.publish("account.created", account_id=account.pk, actor_id=actor.pk)
    return account


@transaction.atomic
def account_update(
    *, actor: User, account: Account, domains: list[str] | str | None = None, **values: Any
) -> Account:
    policy.check(actor, "edit", "account", account)
    changed = _apply(actor, "account", account, ACCOUNT_FIELDS, values)
    if changed:
        account.full_clean()
        account.save()
    if domains is not None:
        _set_domains(account, normalise_domains(domains))
    events.publish("account.updated", account_id=account.pk, actor_id=actor.pk, fields=changed)
    return account


@transaction.atomic
def contact_create(*, actor: User | None, **values: Any) -> Contact:
    if actor is not None:
        policy.check(actor, "create", "contact")
    contact = Contact()
    if actor is None:
        for name, value in values.items():
            setattr(contact, name, value)
    else:
        _apply(actor, "contact", contact, CONTACT_FIELDS, values)
    contact.email = (contact.email or "").strip().lower()
    if Contact.objects.filter(email__iexact=contact.email).exists():
        raise DomainError("A contact with this email already exists.", field="email")
    contact.full_clean()
    contact.save()
    events.publish("contact.created", contact_id=contact.pk, actor_id=getattr(actor, "pk", None))
    return contact


@transaction.atomic
def contact_update(*, actor: User, contact: Contact, **values: Any) -> Contact:
    policy.check(actor, "edit", "contact", contact)
    if "email" in values:
        values["email"] = values["email"].strip().lower()
        clash = Contact.objects.filter(email__iexact=values["email"]).exclude(pk=contact.pk)
        if clash.exists():
            raise DomainError("A contact with this email already exists.", field="email")
    changed = _apply(actor, "contact", contact, CONTACT_FIELDS, values)
    if changed:
        contact.full_clean()
        contact.save()
    events.publish("contact.updated", contact_id=contact.pk, actor_id=actor.pk, fields=changed)
    return contact
