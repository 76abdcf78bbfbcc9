"""Email-to-Case: record a message in the ledger, then apply it to a case.

Every source (HTTP endpoint, IMAP poller, stdin command) calls ``inbound_receive``. The
ledger row is written first, in its own transaction, so nothing is lost: a message that
cannot be parsed or applied is kept as failed with the reason, and an admin can retry it.

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
import re
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AccountDomain, Contact
from cases import services as case_services
from cases.intake import parsing
from cases.intake.models import ImapMailbox, InboundEmail, QueueIntakeSettings
from cases.models import Case, CaseComment, Queue
from lib import reply_address

logger = logging.getLogger(__name__)

_SUBJECT_NUMBER_RE = re.compile(r"(?<!\d)(\d{8})(?!\d)")
_DONE = (InboundEmail.Status.APPLIED, InboundEmail.Status.IGNORED)


class Ignore(Exception):
    """The message is deliberately not applied (noise, loop, policy); the reason is kept."""


def inbound_receive(
    *, raw: bytes, source: str, mailbox: ImapMailbox | None = None, recipient: str = ""
) -> InboundEmail:
    """Record ``raw`` and apply it. Idempotent by Message-ID: a redelivery changes nothing.

    The ledger row and the case changes commit together; a message that fails to apply is
    still recorded (the apply runs in a savepoint). If even that transaction fails, the
    caller sees the error and the source delivers again (HTTP 5xx, IMAP UID not advanced).
    """
    head = parsing.peek(raw)
    keep = settings.INBOUND_RAW_KEEP_BYTES
    with transaction.atomic():
        row = InboundEmail(
            message_id=head.message_id,
            source=source,
            mailbox=mailbox,
            recipient=recipient[:254],
            sender=head.sender,
            subject=head.subject,
            raw=raw[:keep],
            raw_size=len(raw),
            raw_truncated=len(raw) > keep,
        )
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            # Seen before (or being applied right now: the lock waits for that to finish).
            row = InboundEmail.objects.select_for_update().get(message_id=head.message_id)
            if row.status in _DONE:
                return row
        if len(raw) > settings.INBOUND_MESSAGE_MAX_BYTES:
            row.status = InboundEmail.Status.FAILED
            row.reason = (
                f"Message is {len(raw)} bytes; the limit is {settings.INBOUND_MESSAGE_MAX_BYTES}."
            )
            row.processed_at = timezone.now()
            row.save(update_fields=["status", "reason", "processed_at"])
            return row
        _apply_locked(row, raw)
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
    row.attempts += 1
    try:
        # A savepoint: a failure undoes the case changes, never the ledger row.
        with transaction.atomic():
            parsed = parsing.parse(raw)
            row.sender = parsed.sender[:254]
            row.subject = parsed.subject
            _apply(row, parsed)
        row.status, row.reason = InboundEmail.Status.APPLIED, ""
    except Ignore as exc:
        row.status, row.reason = InboundEmail.Status.IGNORED, str(exc)
    except parsing.MessageParseError as exc:
        row.status, row.reason = InboundEmail.Status.FAILED, f"Parse error: {exc}"
    except Exception as exc:
        logger.exception("Inbound email %s could not be applied", row.pk)
        row.status = InboundEmail.Status.FAILED
        row.reason = f"{type(exc).__name__}: {exc}"[:4000]
    if row.status != InboundEmail.Status.APPLIED:
        row.case, row.comment, row.created_case = None, None, False
    row.processed_at = timezone.now()
    # Never rewrite the raw copy: it can be megabytes.
    row.save(update_fields=_LEDGER_FIELDS)


# -- deciding ------------------------------------------------------------------------------


def _base_address(address: str) -> str:
    local, _, domain = address.lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def _queues_named(row: InboundEmail, parsed: parsing.ParsedEmail) -> dict[str, Queue]:
    """Queues whose inbound address is a recipient or the sender: one query for both uses."""
    addresses = {_base_address(a) for a in [row.recipient, *parsed.recipients] if a}
    addresses.add(_base_address(parsed.sender))
    queues = Queue.objects.select_related("intake_settings").filter(inbound_address__in=addresses)
    return {q.inbound_address.lower(): q for q in queues}


def _check_noise(row: InboundEmail, parsed: parsing.ParsedEmail, queues: dict[str, Queue]) -> None:
    if parsed.auto_reason:
        raise Ignore(f"Automatic message ({parsed.auto_reason}): no case, no acknowledgement.")
    sender_domain = parsed.sender.rsplit("@", 1)[-1]
    sender_base = _base_address(parsed.sender)
    if (
        sender_domain == settings.REPLY_DOMAIN.lower()
        or sender_base in queues
        or sender_base == parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()
    ):
        raise Ignore("Sent from one of our own addresses (mail loop).")
    since = timezone.now() - timedelta(hours=1)
    recent = (
        InboundEmail.objects.filter(sender=parsed.sender, created_at__gte=since)
        .exclude(pk=row.pk)
        .exclude(status=InboundEmail.Status.IGNORED)
        .count()
    )
    if recent >= settings.INBOUND_SENDER_LIMIT_PER_HOUR:
        raise Ignore(f"Rate limit: {recent} messages from {parsed.sender} in the last hour.")


def _queue_for(
    row: InboundEmail, parsed: parsing.ParsedEmail, queues: dict[str, Queue]
) -> Queue | None:
    for address in [row.recipient, *parsed.recipients]:
        queue = queues.get(_base_address(address)) if address else None
        if queue is not None:
            return queue
    if row.mailbox_id:
        return row.mailbox.queue
    return None


def _case_by_number(number: str) -> Case | None:
    return Case.objects.select_related("contact").filter(number=number).first()


def find_thread(row: InboundEmail, parsed: parsing.ParsedEmail) -> tuple[Case | None, str]:
    """The existing case this message belongs to, and how it was found."""
    for address in [row.recipient, *parsed.recipients]:
        number = reply_address.verify(address) if address else None
        if number:
            case = _case_by_number(number)
            if case is not None:
                return case, "reply address"
    for msg_id in [*parsed.in_reply_to, *reversed(parsed.references)]:
        number = reply_address.verify_thread_id(msg_id)
        if number:
            case = _case_by_number(number)
            if case is not None:
                return case, "In-Reply-To/References"
        earlier = (
            InboundEmail.objects.filter(message_id=msg_id, case__isnull=False)
            .exclude(pk=row.pk)
            .select_related("case")
            .first()
        )
        if earlier is not None:
            return earlier.case, "In-Reply-To/References"
    for number in _SUBJECT_NUMBER_RE.findall(parsed.subject):
        case = _case_by_number(number)
        if case is not None and case.contact_id and case.contact.email == parsed.sender:
            return case, "subject number from the case's contact"
    return None, ""


def _contact_for(parsed: parsing.ParsedEmail, queue: Queue | None) -> Contact:
    contact = Contact.objects.filter(email=parsed.sender).first()
    if contact is not None:
        return contact
    if queue is not None:
        try:
            intake = queue.intake_settings
        except QueueIntakeSettings.DoesNotExist:
            intake = None
        if intake is not None and intake.reject_unknown_senders:
            raise Ignore(f"Unknown sender {parsed.sender}: queue {queue} rejects them.")
    domain = parsed.sender.rsplit("@", 1)[-1]
    account_domain = AccountDomain.objects.select_related("account").filter(domain=domain).first()
    first, _, last = parsed.sender_name.partition(" ")
    contact = Contact(
        email=parsed.sender,
        first_name=first[:100],
        last_name=last[:100],
        account=account_domain.account if account_domain else None,
    )
    try:
        with transaction.atomic():
            contact.save(force_insert=True)
    except IntegrityError:  # created meanwhile by a concurrent message from the same sender
        contact = Contact.objects.get(email=parsed.sender)
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


def _apply(row: InboundEmail, parsed: parsing.ParsedEmail) -> None:
    queues = _queues_named(row, parsed)
    _check_noise(row, parsed, queues)
    queue = _queue_for(row, parsed, queues)
    case, _how = find_thread(row, parsed)
    contact = _contact_for(parsed, queue)
    files, notes = _uploads(parsed)
    body = "\n\n".join(p for p in [parsed.body, *notes] if p) or (
        "(attachments only)" if files else "(empty message)"
    )
    if case is not None:
        comment = case_services.comment_add(
            actor=None,
            case=case,
            body=body,
            is_public=True,
            channel=CaseComment.Channel.EMAIL,
            author_contact=contact,
            files=files,
        )
        row.case, row.comment = case, comment
        return
    case = case_services.case_create(
        actor=None,
        subject=parsed.subject or "(no subject)",
        description=body,
        contact=contact,
        origin=Case.Origin.EMAIL,
        queue=queue,
    )
    for upload in files:
        case_services.attachment_add(actor=None, case=case, upload=upload)
    row.case, row.created_case = case, True
