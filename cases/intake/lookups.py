"""Every read Email-to-Case makes, done once for a whole batch of messages.

A poll of 200 messages costs the same handful of queries as one message: the queues, the
senders' recent counts, their contacts, the account domains of unknown senders, the cases
named by reply addresses, signed thread ids or subjects, and the ledger rows of the
messages themselves and of those they reply to. The lookups are then kept current while
the batch is applied, so a contact created for the first message is found by the second,
and a reply to a message applied earlier in the batch threads to its case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from accounts.models import Account, AccountDomain, Contact
from cases.intake.models import InboundEmail
from cases.intake.parsing import ParsedEmail
from cases.models import Case, Queue
from lib import reply_address

SUBJECT_NUMBER_RE = re.compile(r"(?<!\d)(\d{8})(?!\d)")


def base_address(address: str) -> str:
    """``support+tag@x`` and ``Support@X`` are both ``support@x``."""
    local, _, domain = address.lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def sender_domain(sender: str) -> str:
    return sender.rsplit("@", 1)[-1]


@dataclass
class Incoming:
    """One message of a batch: what arrived, and where."""

    message_id: str
    parsed: ParsedEmail
    recipient: str = ""

    @property
    def addresses(self) -> list[str]:
        """Every address the message was delivered to, the envelope recipient first."""
        return [a for a in [self.recipient, *self.parsed.recipients] if a]

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this message answers, the most direct first."""
        return [*self.parsed.in_reply_to, *reversed(self.parsed.references)]

    def case_numbers(self) -> set[str]:
        """Case numbers this message could thread to (each still checked by find_thread)."""
        numbers = {reply_address.verify(a) for a in self.addresses}
        numbers |= {reply_address.verify_thread_id(m) for m in self.thread_ids}
        numbers |= set(SUBJECT_NUMBER_RE.findall(self.parsed.subject))
        numbers.discard(None)
        return numbers  # type: ignore[return-value]


@dataclass
class IntakeLookups:
    queues: dict[str, Queue] = field(default_factory=dict)
    sender_counts: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    domain_accounts: dict[str, Account] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    # Ledger rows by Message-ID: the batch's own (already seen?) and the ones replied to.
    known: dict[str, InboundEmail] = field(default_factory=dict)

    @classmethod
    def load(
        cls, batch: Iterable[Incoming], *, exclude_ledger_ids: Iterable[int] = ()
    ) -> IntakeLookups:
        batch = list(batch)
        found = cls()
        found.queues = {
            q.inbound_address.lower(): q
            for q in Queue.objects.select_related("intake_settings").exclude(
                inbound_address__isnull=True
            )
        }
        senders = {m.parsed.sender for m in batch if m.parsed.sender}
        if senders:
            since = timezone.now() - timedelta(hours=1)
            counted = (
                InboundEmail.objects.filter(sender__in=senders, created_at__gte=since)
                .exclude(pk__in=list(exclude_ledger_ids))
                .exclude(status=InboundEmail.Status.IGNORED)
                .values("sender")
                .annotate(n=Count("pk"))
            )
            found.sender_counts = {row["sender"]: row["n"] for row in counted}
            found.contacts = {c.email: c for c in Contact.objects.filter(email__in=senders)}
        unknown_domains = {sender_domain(s) for s in senders if s not in found.contacts}
        if unknown_domains:
            found.domain_accounts = {
                d.domain: d.account
                for d in AccountDomain.objects.select_related("account").filter(
                    domain__in=unknown_domains
                )
            }
        numbers = set().union(*(m.case_numbers() for m in batch)) if batch else set()
        if numbers:
            found.cases = {
                c.number: c
                for c in Case.objects.select_related("contact").filter(number__in=numbers)
            }
        message_ids = {m.message_id for m in batch} | {i for m in batch for i in m.thread_ids}
        if message_ids:
            found.known = {
                row.message_id: row
                for row in InboundEmail.objects.select_related("case__contact")
                .filter(message_id__in=message_ids)
                .exclude(pk__in=list(exclude_ledger_ids))
                .defer("raw")
            }
        return found

    # -- kept current while the batch is applied -----------------------------------------

    def recent_from(self, sender: str) -> int:
        """Messages from ``sender`` in the last hour that were not ignored."""
        return self.sender_counts.get(sender, 0)

    def count_from(self, sender: str) -> None:
        self.sender_counts[sender] = self.sender_counts.get(sender, 0) + 1

    def remember_contact(self, contact: Contact) -> None:
        self.contacts[contact.email] = contact

    def remember_applied(self, row: InboundEmail) -> None:
        self.known[row.message_id] = row
        if row.case is not None:
            self.cases[row.case.number] = row.case

    def queue_of(self, address: str) -> Queue | None:
        return self.queues.get(base_address(address))

    def earlier_case(self, message_id: str) -> Case | None:
        row = self.known.get(message_id)
        return row.case if row is not None and row.case_id else None
