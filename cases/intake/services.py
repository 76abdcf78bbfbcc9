"""Email-to-Case: record each message in the ledger and apply it to a case.

Every source calls ``inbound_receive`` (HTTP endpoint, stdin command) or
``inbound_receive_many`` (the IMAP poller, a batch per poll). The ledger row commits with
the case changes it caused; a message that cannot be parsed or applied is kept as failed
with the reason, so nothing is lost and an admin can retry it.

Threading, in this order (nothing else attaches mail to an existing case, so a stranger
cannot write into someone else's case by guessing a number):
1. a signed reply address among the recipients (``lib.reply_address``);
2. In-Reply-To/References carrying one of our signed Message-IDs, or the Message-ID of a
   message already applied to a case;
3. a case number in the subject, only when the sender is that case's contact.
Otherwise a new case (origin Email) in the queue of the receiving address.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, Contact
from cases import services as case_services
from cases.intake import parsing
from cases.intake.lookups import (
    SUBJECT_NUMBER_RE,
    Incoming,
    IntakeLookups,
    base_address,
    sender_domain,
)
from cases.intake.models import ImapMailbox, InboundEmail
from cases.models import Case, CaseComment, Queue
from lib import reply_address
from lib.db import insert_unless_conflict
from lib.snapshot import config_snapshot

logger = logging.getLogger(__name__)
_DONE = (InboundEmail.Status.APPLIED, InboundEmail.Status.IGNORED)


class Ignore(Exception):
    """The message is deliberately not applied (noise, loop, policy); the reason is kept."""


def inbound_receive(
    *, raw: bytes, source: str, mailbox: ImapMailbox | None = None, recipient: str = ""
) -> InboundEmail:
    """Record ``raw`` and apply it. Idempotent by Message-ID: a redelivery changes nothing."""
    return inbound_receive_many([raw], source=source, mailbox=mailbox, recipient=recipient)[0]


def inbound_receive_many(
    raws: Sequence[bytes],
    *,
    source: str,
    mailbox: ImapMailbox | None = None,
    recipient: str = "",
) -> list[InboundEmail]:
    """Record and apply messages in order; one ledger row each, returned in the same order.

    The fast path takes the batch in one transaction, with the reads made once
    (``IntakeLookups``) and no savepoints of its own. Whatever goes wrong in it (a message that does
    not apply, a concurrent delivery of the same message) undoes the whole batch, and each
    of its messages is then taken alone by the careful path, which keeps every failure in
    the ledger with its reason. So one bad message costs only itself and nothing is lost;
    if even the careful path cannot write, the caller sees the error and the source
    delivers again (HTTP 5xx, IMAP UID not advanced).
    """
    arrivals = [_Arrival(raw, source, mailbox, recipient) for raw in raws]
    fast = [a for a in arrivals if a.fits]
    try:
        _apply_fast(fast)
    except Exception:
        logger.warning("Inbound batch of %s fell back to one by one", len(fast), exc_info=True)
        for arrival in fast:
            arrival.row = None
    for arrival in arrivals:
        if arrival.row is None:
            arrival.row = _receive_carefully(arrival)
    return [a.row for a in arrivals]  # type: ignore[misc]


class _Arrival:
    """One message as delivered, and (once taken) its ledger row."""

    def __init__(
        self, raw: bytes, source: str, mailbox: ImapMailbox | None, recipient: str
    ) -> None:
        self.raw, self.source, self.mailbox = raw, source, mailbox
        self.recipient = recipient[:254]
        self.head = parsing.peek(raw)
        self.fits = len(raw) <= settings.INBOUND_MESSAGE_MAX_BYTES
        self.row: InboundEmail | None = None

    def new_row(self) -> InboundEmail:
        keep = settings.INBOUND_RAW_KEEP_BYTES
        return InboundEmail(
            message_id=self.head.message_id,
            source=self.source,
            mailbox=self.mailbox,
            recipient=self.recipient,
            sender=self.head.sender,
            subject=self.head.subject,
            raw=self.raw[:keep],
            raw_size=len(self.raw),
            raw_truncated=len(self.raw) > keep,
        )


def _apply_fast(arrivals: list[_Arrival]) -> None:
    """Apply new, parseable messages; leave the others (row None) to the careful path."""
    batch: list[tuple[_Arrival, Incoming]] = []
    taken: set[str] = set()
    for arrival in arrivals:
        if arrival.head.message_id in taken:
            continue  # the same message twice in one batch: the careful path finds the first
        try:
            parsed = parsing.parse(arrival.raw)
        except parsing.MessageParseError:
            continue
        taken.add(arrival.head.message_id)
        batch.append((arrival, Incoming(arrival.head.message_id, parsed, arrival.recipient)))
    if not batch:
        return
    # Reads first, outside the transaction: they need no locks.
    lookups = IntakeLookups.load(m for _, m in batch)
    # Seen before: the careful path returns or retries that row.
    batch = [(a, m) for a, m in batch if m.message_id not in lookups.known]
    # Numbers taken ahead keep the counter's lock short while the batch works; a single
    # message holds its transaction no longer than any other case creation.
    new_cases = sum(_likely_new_case(m, lookups) for _, m in batch) if len(batch) > 1 else 0
    # The flows and recipients' field rules are read once for the whole batch.
    with (
        case_services.reserved_case_numbers(new_cases),
        config_snapshot(),
        transaction.atomic(),
    ):
        rows = []
        for arrival, incoming in batch:
            row = arrival.new_row()
            _decide_and_apply(row, incoming, lookups)
            arrival.row = row
            rows.append(row)
        # One statement for the whole ledger; a Message-ID recorded meanwhile by a
        # concurrent delivery fails it, and the batch is taken again one by one.
        InboundEmail.objects.bulk_create(rows)


def _likely_new_case(incoming: Incoming, lookups: IntakeLookups) -> bool:
    """Will this message open a case? (To reserve numbers; a wrong guess leaves a gap.)"""
    try:
        _check_noise(incoming, lookups)
    except Ignore:
        return False
    return find_thread(incoming, lookups)[0] is None


def _receive_carefully(arrival: _Arrival) -> InboundEmail:
    with transaction.atomic():
        row = arrival.new_row()
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            # Seen before (or being applied right now: the lock waits for that to finish).
            row = InboundEmail.objects.select_for_update().get(message_id=arrival.head.message_id)
            if row.status in _DONE:
                return row
        if not arrival.fits:
            row.status = InboundEmail.Status.FAILED
            row.reason = (
                f"Message is {len(arrival.raw)} bytes; "
                f"the limit is {settings.INBOUND_MESSAGE_MAX_BYTES}."
            )
            row.processed_at = timezone.now()
            row.save(update_fields=["status", "reason", "processed_at"])
            return row
        _apply_locked(row, arrival.raw)
        return row


def inbound_retry(*, inbound: InboundEmail) -> InboundEmail:
    """Apply a failed message again from its stored copy (the admin's retry)."""
    if inbound.raw_truncated:
        return _fail(inbound, "The stored copy was truncated; the message cannot be replayed.")
    return inbound_apply(inbound=inbound, raw=bytes(inbound.raw))


def _fail(row: InboundEmail, reason: str) -> InboundEmail:
    InboundEmail.objects.filter(pk=row.pk).update(
        status=InboundEmail.Status.FAILED, reason=reason[:4000], processed_at=timezone.now()
    )
    row.refresh_from_db()
    return row


@transaction.atomic
def inbound_apply(*, inbound: InboundEmail, raw: bytes) -> InboundEmail:
    """Apply a recorded message under its row lock, so two deliveries apply it once."""
    row = InboundEmail.objects.select_for_update().get(pk=inbound.pk)
    if row.status not in _DONE:
        _apply_locked(row, raw)
    return row


_LEDGER_FIELDS = [
    "sender",
    "subject",
    "status",
    "reason",
    "case",
    "comment",
    "created_case",
    "attempts",
    "processed_at",
]


def _apply_locked(row: InboundEmail, raw: bytes) -> None:
    """The careful path for one recorded message: a failure is kept with its reason."""
    try:
        # A savepoint: a failure undoes the case changes, never the ledger row.
        with transaction.atomic():
            parsed = parsing.parse(raw)
            incoming = Incoming(row.message_id, parsed, row.recipient)
            lookups = IntakeLookups.load([incoming], exclude_ledger_ids=[row.pk])
            _decide_and_apply(row, incoming, lookups)
    except parsing.MessageParseError as exc:
        _record(row, InboundEmail.Status.FAILED, f"Parse error: {exc}")
    except Exception as exc:
        logger.exception("Inbound email %s could not be applied", row.pk)
        _record(row, InboundEmail.Status.FAILED, f"{type(exc).__name__}: {exc}")
    # Never rewrite the raw copy: it can be megabytes.
    row.save(update_fields=_LEDGER_FIELDS)


def _record(row: InboundEmail, status: str, reason: str = "") -> None:
    row.attempts += 1
    row.status, row.reason = status, reason[:4000]
    if status != InboundEmail.Status.APPLIED:
        row.case, row.comment, row.created_case = None, None, False
    row.processed_at = timezone.now()


def _decide_and_apply(row: InboundEmail, incoming: Incoming, lookups: IntakeLookups) -> None:
    """Decide what the message is (nothing written), then write it; record the outcome.

    An ``Ignore`` is raised before anything is written, so it needs no rollback.
    """
    parsed = incoming.parsed
    row.sender = parsed.sender[:254]
    row.subject = parsed.subject
    try:
        plan = _decide(row, incoming, lookups)
    except Ignore as exc:
        _record(row, InboundEmail.Status.IGNORED, str(exc))
        return
    lookups.count_from(parsed.sender)
    _write(row, plan, lookups)
    _record(row, InboundEmail.Status.APPLIED)
    lookups.remember_applied(row)


# -- deciding ------------------------------------------------------------------------------


@dataclass
class _Plan:
    parsed: parsing.ParsedEmail
    queue: Queue | None
    case: Case | None
    contact: Contact | None  # None: create it (under ``account``)
    account: Account | None = None


def _check_noise(incoming: Incoming, lookups: IntakeLookups) -> None:
    parsed = incoming.parsed
    if parsed.auto_reason:
        raise Ignore(f"Automatic message ({parsed.auto_reason}): no case, no acknowledgement.")
    sender_base = base_address(parsed.sender)
    if (
        sender_domain(parsed.sender) == settings.REPLY_DOMAIN.lower()
        or sender_base in lookups.queues
        or sender_base == parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()
    ):
        raise Ignore("Sent from one of our own addresses (mail loop).")
    recent = lookups.recent_from(parsed.sender)
    if recent >= settings.INBOUND_SENDER_LIMIT_PER_HOUR:
        raise Ignore(f"Rate limit: {recent} messages from {parsed.sender} in the last hour.")


def _queue_for(row: InboundEmail, incoming: Incoming, lookups: IntakeLookups) -> Queue | None:
    for address in incoming.addresses:
        queue = lookups.queue_of(address)
        if queue is not None:
            return queue
    return row.mailbox.queue if row.mailbox_id else None


def find_thread(incoming: Incoming, lookups: IntakeLookups) -> tuple[Case | None, str]:
    """The existing case this message belongs to, and how it was found."""
    for address in incoming.addresses:
        number = reply_address.verify(address)
        if number and number in lookups.cases:
            return lookups.cases[number], "reply address"
    for msg_id in incoming.thread_ids:
        number = reply_address.verify_thread_id(msg_id)
        if number and number in lookups.cases:
            return lookups.cases[number], "In-Reply-To/References"
        earlier = lookups.earlier_case(msg_id)
        if earlier is not None:
            return earlier, "In-Reply-To/References"
    sender = incoming.parsed.sender
    for number in SUBJECT_NUMBER_RE.findall(incoming.parsed.subject):
        case = lookups.cases.get(number)
        if case is not None and case.contact_id and case.contact.email == sender:
            return case, "subject number from the case's contact"
    return None, ""


def _decide(row: InboundEmail, incoming: Incoming, lookups: IntakeLookups) -> _Plan:
    _check_noise(incoming, lookups)
    queue = _queue_for(row, incoming, lookups)
    case, _how = find_thread(incoming, lookups)
    sender = incoming.parsed.sender
    contact = lookups.contacts.get(sender)
    if contact is not None:
        return _Plan(incoming.parsed, queue, case, contact)
    intake = getattr(queue, "intake_settings", None) if queue is not None else None
    if intake is not None and intake.reject_unknown_senders:
        raise Ignore(f"Unknown sender {sender}: queue {queue} rejects them.")
    account = lookups.domain_accounts.get(sender_domain(sender))
    return _Plan(incoming.parsed, queue, case, None, account)


# -- writing -------------------------------------------------------------------------------


def _contact_for(plan: _Plan, lookups: IntakeLookups) -> Contact:
    if plan.contact is not None:
        return plan.contact
    parsed = plan.parsed
    first, _, last = parsed.sender_name.partition(" ")
    contact = Contact(
        email=parsed.sender.strip().lower(),
        first_name=first[:100],
        last_name=last[:100],
        account=plan.account,
    )
    # A concurrent message from the same sender may have created it meanwhile.
    if not insert_unless_conflict(contact):
        contact = Contact.objects.get(email=contact.email)
    lookups.remember_contact(contact)
    return contact


def _uploads(parsed: parsing.ParsedEmail) -> tuple[list[ContentFile], list[str]]:
    """Attachments within the size limit, and a note for each one left out."""
    keep, notes = [], []
    limit = settings.ATTACHMENT_MAX_BYTES
    for att in parsed.attachments:
        if not att.content:
            continue
        if len(att.content) > limit:
            notes.append(
                f"[Attachment {att.name} ({len(att.content)} bytes) was not kept: "
                f"the limit is {limit} bytes.]"
            )
            continue
        keep.append(ContentFile(att.content, name=att.name))
    return keep, notes


def _write(row: InboundEmail, plan: _Plan, lookups: IntakeLookups) -> None:
    contact = _contact_for(plan, lookups)
    parsed = plan.parsed
    files, notes = _uploads(parsed)
    body = "\n\n".join(p for p in [parsed.body, *notes] if p) or (
        "(attachments only)" if files else "(empty message)"
    )
    if plan.case is not None:
        comment = case_services.comment_add(
            actor=None,
            case=plan.case,
            body=body,
            is_public=True,
            channel=CaseComment.Channel.EMAIL,
            author_contact=contact,
            files=files,
        )
        row.case, row.comment = plan.case, comment
        return
    case = case_services.case_create(
        actor=None,
        subject=parsed.subject or "(no subject)",
        description=body,
        contact=contact,
        origin=Case.Origin.EMAIL,
        queue=plan.queue,
    )
    for upload in files:
        case_services.attachment_add(actor=None, case=case, upload=upload)
    row.case, row.created_case = case, True
