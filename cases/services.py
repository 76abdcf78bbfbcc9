"""Every change to a case. Each service checks access, writes in one transaction,
records history (CaseEvent) and publishes a domain event after commit.

``actor`` is the user who acts, or None for the system (email intake, automation).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from access import policy
from accounts.models import Account, Contact, User
from cases.models import (
    ALLOWED_TRANSITIONS,
    Activity,
    Attachment,
    Case,
    CaseComment,
    CaseEvent,
    Counter,
    Queue,
)
from lib import events
from lib.errors import AttachmentRejected, DomainError, InvalidTransition
from lib.files import digest_and_sniff

CASE_NUMBER_COUNTER = "case_number"
CASE_NUMBER_START = 1000
# Fields a person edits through case_update; status, owner and queue have their own services.
CASE_EDITABLE_FIELDS = (
    "subject",
    "description",
    "priority",
    "type",
    "account",
    "contact",
    "parent",
)

_UNSET: Any = object()
# full_clean skips these: the number is allocated, and foreign keys arrive as model
# instances (checking each one again would cost a query per relation).
_NOT_REVALIDATED = ("number", "account", "contact", "owner", "queue", "parent")


def _check(actor: User | None, action: str, obj_type: str, record: Any = None) -> None:
    if actor is not None:
        policy.check(actor, action, obj_type, record)


def _display(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def _event(
    case: Case,
    actor: User | None,
    kind: str,
    *,
    field_name: str = "",
    old: Any = None,
    new: Any = None,
) -> CaseEvent:
    return CaseEvent(
        case=case,
        actor=actor,
        kind=kind,
        field=field_name,
        old_value=_display(old),
        new_value=_display(new),
    )


def _touch(case: Case, now: datetime) -> None:
    Case.objects.filter(pk=case.pk).update(updated_at=now)
    case.updated_at = now


_HELD_RELATIONS = ("contact", "account", "owner", "queue")


def _lock(case: Case) -> Case:
    """Re-read the case under a row lock so concurrent changes queue up instead of clobbering.

    Related rows the caller already loaded are kept when the ids still match: the flows and
    templates that run on this change read them, and the lock is about the case row only.
    """
    locked = Case.objects.select_for_update().get(pk=case.pk)
    for name in _HELD_RELATIONS:
        relation = Case._meta.get_field(name)
        if relation.is_cached(case) and getattr(locked, relation.attname) == getattr(
            case, relation.attname
        ):
            relation.set_cached_value(locked, relation.get_cached_value(case))
    return locked


# -- numbers ----------------------------------------------------------------------------


# Numbers taken ahead for the case_create calls of a batch (see reserved_case_numbers).
_reserved_numbers: ContextVar[Iterator[int] | None] = ContextVar("reserved_numbers", default=None)


@contextmanager
def reserved_case_numbers(count: int) -> Iterator[None]:
    """Take ``count`` numbers now, in their own short transaction, for the cases the block
    creates; once they run out, numbers come from the counter as usual.

    A batch (an IMAP poll) holds its transaction open while it works. Taking its numbers
    from the counter inside that transaction would hold the counter's row lock just as
    long and make every other creator wait; taken ahead, the lock lasts one statement.
    The price: numbers a batch did not use, or that a rolled-back batch used, are gaps.
    """
    if count < 1 or transaction.get_connection().in_atomic_block:
        # Inside a caller's transaction a reservation would hold the lock all the same.
        yield
        return
    token = _reserved_numbers.set(iter(allocate_case_numbers(count)))
    try:
        yield
    finally:
        _reserved_numbers.reset(token)


def allocate_case_numbers(count: int = 1) -> range:
    """Reserve ``count`` consecutive case numbers.

    One ``UPDATE ... RETURNING`` increments the counter; its row lock is held until the
    surrounding transaction ends, so concurrent creators each get their own block. Inside
    a caller's transaction no savepoint is needed: either all of it commits or none.
    """
    if count < 1:
        raise ValueError("count must be positive")
    reserved = _reserved_numbers.get()
    if count == 1 and reserved is not None:
        number = next(reserved, None)
        if number is not None:
            return range(number, number + 1)
    table = connection.ops.quote_name(Counter._meta.db_table)
    increment = f"UPDATE {table} SET value = value + %s WHERE name = %s RETURNING value"  # noqa: S608 - our own table name
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(increment, [count, CASE_NUMBER_COUNTER])
        row = cursor.fetchone()
        if row is None:  # the first case ever: create the counter, then take from it
            Counter.objects.get_or_create(
                name=CASE_NUMBER_COUNTER, defaults={"value": CASE_NUMBER_START}
            )
            cursor.execute(increment, [count, CASE_NUMBER_COUNTER])
            row = cursor.fetchone()
    last = row[0]
    return range(last - count + 1, last + 1)


def format_case_number(value: int) -> str:
    return f"{value:08d}"


# -- create and edit -----------------------------------------------------------------


@transaction.atomic
def case_create(
    *,
    actor: User | None,
    subject: str,
    description: str = "",
    contact: Contact | None = None,
    account: Account | None = None,
    priority: str = Case.Priority.MEDIUM,
    origin: str = Case.Origin.AGENT,
    type: str = Case.Type.QUESTION,
    queue: Queue | None = None,
    owner: User | None = None,
    parent: Case | None = None,
) -> Case:
    _check(actor, "create", "case")
    subject = subject.strip()
    if not subject:
        raise DomainError("A case needs a subject.", field="subject")
    if owner is not None and not owner.is_staff:
        raise DomainError("Only agents can own cases.", field="owner")
    if account is None and contact is not None:
        account = contact.account
    if contact is not None and contact.account_id and account and contact.account_id != account.pk:
        raise DomainError("The contact belongs to another account.", field="contact")
    now = timezone.now()
    case = Case(
        number=format_case_number(allocate_case_numbers(1)[0]),
        subject=subject,
        description=description,
        priority=priority,
        origin=origin,
        type=type,
        account=account,
        contact=contact,
        queue=queue,
        owner=owner,
        parent=parent,
        created_at=now,
        updated_at=now,
    )
    case.full_clean(exclude=_NOT_REVALIDATED)
    case.save()
    CaseEvent.objects.create(
        case=case, actor=actor, kind=CaseEvent.Kind.CREATED, new_value=case.get_status_display()
    )
    events.publish("case.created", instances={"case": case}, case_id=case.pk, actor_id=_id(actor))
    return case


def _id(user: User | None) -> int | None:
    return user.pk if user is not None else None


@transaction.atomic
def case_update(*, actor: User | None, case: Case, **changes: Any) -> Case:
    """Change plain fields (``CASE_EDITABLE_FIELDS``); one history row per changed field."""
    _check(actor, "edit", "case", case)
    unknown = set(changes) - set(CASE_EDITABLE_FIELDS)
    if unknown:
        raise DomainError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    if actor is not None:
        allowed = set(policy.editable_fields(actor, "case", CASE_EDITABLE_FIELDS))
        refused = {
            name
            for name, value in changes.items()
            if name not in allowed and getattr(case, name) != value
        }
        if refused:
            raise DomainError(f"You may not change: {', '.join(sorted(refused))}.")
    case = _lock(case)
    history = []
    changed: dict[str, tuple[str, str]] = {}
    for name, value in changes.items():
        old = getattr(case, name)
        if old == value:
            continue
        setattr(case, name, value)
        old_shown, new_shown = _field_display(case, name, old, value)
        history.append(
            _event(
                case,
                actor,
                CaseEvent.Kind.FIELD_CHANGED,
                field_name=name,
                old=old_shown,
                new=new_shown,
            )
        )
        changed[name] = (old_shown, new_shown)
    if not history:
        return case
    if case.parent_id is not None and case.parent_id == case.pk:
        raise DomainError("A case cannot be its own parent.", field="parent")
    if case.contact_id and case.contact.account_id and case.account_id != case.contact.account_id:
        raise DomainError("The contact belongs to another account.", field="contact")
    case.subject = case.subject.strip()
    case.updated_at = timezone.now()
    case.full_clean(exclude=_NOT_REVALIDATED)
    case.save()
    CaseEvent.objects.bulk_create(history)
    events.publish(
        "case.updated",
        instances={"case": case},
        case_id=case.pk,
        actor_id=_id(actor),
        changes={k: list(v) for k, v in changed.items()},
    )
    if "priority" in changed:
        events.publish(
            "case.priority_changed",
            instances={"case": case},
            case_id=case.pk,
            actor_id=_id(actor),
            old=changed["priority"][0],
            new=changed["priority"][1],
        )
    return case


def _field_display(case: Case, name: str, old: Any, new: Any) -> tuple[str, str]:
    field_obj = Case._meta.get_field(name)
    if getattr(field_obj, "choices", None):
        labels = dict(field_obj.choices)
        return str(labels.get(old, old)), str(labels.get(new, new))
    return _display(old), _display(new)


# -- status ---------------------------------------------------------------------------


@transaction.atomic
def case_change_status(*, actor: User | None, case: Case, status: str) -> Case:
    """Move a case along its workflow; leaving Resolved or Closed is a reopen."""
    _check(actor, "edit", "case", case)
    if status not in Case.Status.values:
        raise InvalidTransition(f"Unknown status {status!r}.", field="status")
    case = _lock(case)
    old = case.status
    if status == old:
        return case
    if status not in ALLOWED_TRANSITIONS[old]:
        raise InvalidTransition(
            f"A case cannot go from {Case.Status(old).label} to {Case.Status(status).label}.",
            field="status",
        )
    now = timezone.now()
    reopened = not Case(status=old).is_open and Case(status=status).is_open
    case.status = status
    case.updated_at = now
    if status == Case.Status.RESOLVED:
        case.resolved_at = now
    elif status == Case.Status.CLOSED:
        case.closed_at = now
        case.resolved_at = case.resolved_at or now
    elif reopened:
        case.resolved_at = None
        case.closed_at = None
    case.save(update_fields=["status", "updated_at", "resolved_at", "closed_at"])
    kind = CaseEvent.Kind.REOPENED if reopened else CaseEvent.Kind.STATUS_CHANGED
    CaseEvent.objects.create(
        case=case,
        actor=actor,
        kind=kind,
        field="status",
        old_value=Case.Status(old).label,
        new_value=Case.Status(status).label,
    )
    held = {"case": case}
    events.publish(
        "case.status_changed",
        instances=held,
        case_id=case.pk,
        actor_id=_id(actor),
        old=old,
        new=status,
    )
    if reopened:
        events.publish("case.reopened", instances=held, case_id=case.pk, actor_id=_id(actor))
    elif status == Case.Status.RESOLVED:
        events.publish("case.resolved", instances=held, case_id=case.pk, actor_id=_id(actor))
    return case


# -- assignment ---------------------------------------------------------------------


@transaction.atomic
def case_assign(
    *, actor: User | None, case: Case, owner: User | None = _UNSET, queue: Queue | None = _UNSET
) -> Case:
    """Set the owner and/or the queue. Pass None to clear; leave out to keep."""
    _check(actor, "edit", "case", case)
    if owner is not _UNSET and owner is not None and not (owner.is_staff and owner.is_active):
        raise DomainError("Cases can only be assigned to active agents.", field="owner")
    case = _lock(case)
    previous_owner_id = case.owner_id
    history = []
    if owner is not _UNSET and owner != case.owner:
        history.append(
            _event(
                case, actor, CaseEvent.Kind.ASSIGNED, field_name="owner", old=case.owner, new=owner
            )
        )
        case.owner = owner
    else:
        owner = _UNSET
    if queue is not _UNSET and queue != case.queue:
        history.append(
            _event(
                case, actor, CaseEvent.Kind.ASSIGNED, field_name="queue", old=case.queue, new=queue
            )
        )
        case.queue = queue
    else:
        queue = _UNSET
    if not history:
        return case
    case.updated_at = timezone.now()
    case.save(update_fields=["owner", "queue", "updated_at"])
    CaseEvent.objects.bulk_create(history)
    events.publish(
        "case.assigned",
        instances={"case": case},
        case_id=case.pk,
        actor_id=_id(actor),
        owner_id=case.owner_id,
        queue_id=case.queue_id,
        owner_changed=owner is not _UNSET,
        queue_changed=queue is not _UNSET,
        previous_owner_id=previous_owner_id,
    )
    return case


@dataclass
class BulkResult:
    changed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def case_bulk_assign(
    *, actor: User, cases: Iterable[Case], owner: User | None = _UNSET, queue: Queue | None = _UNSET
) -> BulkResult:
    """Assign many cases; each case is its own transaction so one refusal skips only it."""
    result = BulkResult()
    for case in cases:
        try:
            case_assign(actor=actor, case=case, owner=owner, queue=queue)
        except (DomainError, PermissionDenied) as exc:
            result.skipped[case.number] = str(exc)
        else:
            result.changed.append(case.number)
    return result


def case_bulk_change_status(*, actor: User, cases: Iterable[Case], status: str) -> BulkResult:
    result = BulkResult()
    for case in cases:
        try:
            case_change_status(actor=actor, case=case, status=status)
        except (DomainError, PermissionDenied) as exc:
            result.skipped[case.number] = str(exc)
        else:
            result.changed.append(case.number)
    return result


# -- comments and attachments --------------------------------------------------------


@transaction.atomic
def comment_add(
    *,
    actor: User | None,
    case: Case,
    body: str,
    is_public: bool,
    channel: str = CaseComment.Channel.DESK,
    author_contact: Contact | None = None,
    files: Sequence[IO[bytes]] = (),
) -> CaseComment:
    """Add a public reply or an internal note, with optional files.

    A portal user always writes publicly as their contact. The first public reply by an
    agent sets the case's first-response time.
    """
    _check(actor, "read", "case", case)
    _check(actor, "create", "comment")
    body = body.strip()
    if not body:
        raise DomainError("Write something first.", field="body")
    contact = policy.portal_contact(actor)
    if contact is not None:
        author_contact, is_public = contact, True
    by_agent = policy.is_agent(actor) and author_contact is None
    for upload in files:
        validate_upload(upload)
    case = _lock(case)
    now = timezone.now()
    comment = CaseComment.objects.create(
        case=case,
        body=body,
        is_public=is_public,
        author_user=actor,
        author_contact=author_contact,
        channel=channel,
        created_at=now,
    )
    update_fields = ["updated_at"]
    case.updated_at = now
    if by_agent and is_public and case.first_response_at is None:
        case.first_response_at = now
        update_fields.append("first_response_at")
    case.save(update_fields=update_fields)
    CaseEvent.objects.create(
        case=case,
        actor=actor,
        kind=CaseEvent.Kind.COMMENT_ADDED,
        new_value="public reply" if is_public else "internal note",
    )
    for upload in files:
        attachment_add(actor=actor, case=case, upload=upload, comment=comment)
    if author_contact is not None and is_public:
        case_customer_replied(case=case)
    events.publish(
        "comment.added",
        instances={"case": case, "comment": comment},
        case_id=case.pk,
        comment_id=comment.pk,
        actor_id=_id(actor),
        is_public=is_public,
        by_agent=by_agent,
        channel=channel,
    )
    return comment


def case_customer_replied(*, case: Case) -> Case:
    """A customer answered (portal, email or API): a case waiting on them goes back to work.

    The one place for this rule, so every channel behaves the same. A reply on a resolved
    or closed case does not reopen it here; the portal decides that (grace window).
    """
    if case.status == Case.Status.WAITING_ON_CUSTOMER:
        return case_change_status(actor=None, case=case, status=Case.Status.IN_PROGRESS)
    return case


def validate_upload(upload: IO[bytes]) -> None:
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, 2)
        size = upload.tell()
        upload.seek(0)
    limit = settings.ATTACHMENT_MAX_BYTES
    name = getattr(upload, "name", "file")
    if size > limit:
        raise AttachmentRejected(
            f"{name} is {_megabytes(size)}; the limit is {_megabytes(limit)}.", field="files"
        )
    if size == 0:
        raise AttachmentRejected(f"{name} is empty.", field="files")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


@transaction.atomic
def attachment_add(
    *,
    actor: User | None,
    case: Case,
    upload: IO[bytes],
    comment: CaseComment | None = None,
    is_public: bool | None = None,
) -> Attachment:
    """Store a file on a case. Size, hash and content type are read from the bytes."""
    _check(actor, "read", "case", case)
    _check(actor, "create", "attachment")
    validate_upload(upload)
    if policy.portal_contact(actor) is not None:
        is_public = True
    if is_public is None:
        is_public = comment.is_public if comment is not None else True
    sha256, content_type, size = digest_and_sniff(upload)
    original_name = _safe_name(getattr(upload, "name", "") or "file")
    attachment = Attachment(
        case=case,
        comment=comment,
        original_name=original_name,
        size=size,
        sha256=sha256,
        content_type=content_type,
        is_public=is_public,
        uploaded_by=actor,
    )
    attachment.file.save(original_name, File(upload), save=False)
    attachment.save()
    CaseEvent.objects.create(
        case=case, actor=actor, kind=CaseEvent.Kind.ATTACHMENT_ADDED, new_value=original_name
    )
    _touch(case, timezone.now())
    events.publish(
        "attachment.added", case_id=case.pk, attachment_id=attachment.pk, actor_id=_id(actor)
    )
    return attachment


def _safe_name(name: str) -> str:
    # Keep the last path part only and drop control characters; templates escape the rest.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "file"


# -- activities ----------------------------------------------------------------------------


@transaction.atomic
def activity_create(
    *,
    actor: User | None,
    case: Case,
    kind: str,
    subject: str,
    description: str = "",
    owner: User | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    due_at: datetime | None = None,
) -> Activity:
    _check(actor, "read", "case", case)
    _check(actor, "create", "activity")
    if not subject.strip():
        raise DomainError("An activity needs a subject.", field="subject")
    if kind in (Activity.Kind.MEETING, Activity.Kind.CALL) and starts_at is None:
        raise DomainError("Meetings and calls need a start time.", field="starts_at")
    if kind in (Activity.Kind.FOLLOW_UP, Activity.Kind.TASK) and due_at is None:
        raise DomainError("Follow-ups and tasks need a due time.", field="due_at")
    if starts_at and ends_at and ends_at < starts_at:
        raise DomainError("The end must not be before the start.", field="ends_at")
    if owner is not None and not owner.is_staff:
        raise DomainError("Only agents can own activities.", field="owner")
    activity = Activity.objects.create(
        case=case,
        kind=kind,
        subject=subject.strip(),
        description=description,
        owner=owner or (actor if policy.is_agent(actor) else None),
        starts_at=starts_at,
        ends_at=ends_at,
        due_at=due_at,
        created_by=actor,
    )
    CaseEvent.objects.create(
        case=case,
        actor=actor,
        kind=CaseEvent.Kind.ACTIVITY_CREATED,
        field="activity",
        new_value=str(activity),
    )
    _touch(case, timezone.now())
    events.publish(
        "activity.created", case_id=case.pk, activity_id=activity.pk, actor_id=_id(actor)
    )
    return activity


@transaction.atomic
def activity_complete(*, actor: User | None, activity: Activity) -> Activity:
    _check(actor, "edit", "activity", activity)
    # A conditional update claims the row: completing twice records one completion.
    now = timezone.now()
    claimed = Activity.objects.filter(pk=activity.pk, done_at__isnull=True).update(done_at=now)
    activity.refresh_from_db()
    if not claimed:
        return activity
    CaseEvent.objects.create(
        case_id=activity.case_id,
        actor=actor,
        kind=CaseEvent.Kind.ACTIVITY_COMPLETED,
        field="activity",
        new_value=str(activity),
    )
    Case.objects.filter(pk=activity.case_id).update(updated_at=now)
    events.publish(
        "activity.completed", case_id=activity.case_id, activity_id=activity.pk, actor_id=_id(actor)
    )
    return activity
