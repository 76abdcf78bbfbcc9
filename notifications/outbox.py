"""The outbox: every outbound email is a row written in the transaction that caused it.

``enqueue_email`` is the one way to send mail (flows, portal invitations, anything else).
The row commits or rolls back with the caller's change; delivery is enqueued on commit,
and the sweep (``outbox_sweep_task``) picks up rows whose enqueue was lost.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from lib import reply_address
from lib.db import insert_unless_conflict
from notifications.models import OutboundEmail

if TYPE_CHECKING:
    from cases.models import Case

_KEY_MAX = 255


def normalise_key(key: str) -> str:
    """Keys longer than the column are replaced by their hash (still unique and stable)."""
    if len(key) <= _KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def message_id_for(key: str, case: Case | None = None) -> str:
    """A stable Message-ID for the row with this key; keyed so nobody outside can guess it.

    Mail of a case carries the case's signed thread tag, so a reply quoting it in
    In-Reply-To threads back (intake verifies the signature, needing no outbox lookup).
    """
    digest = salted_hmac("casedesk.outbox-message-id", key, algorithm="sha256").hexdigest()[:32]
    if case is not None:
        return reply_address.case_message_id(digest, case.number)
    return f"<{digest}.outbox@{settings.REPLY_DOMAIN}>"


def case_headers(case: Case) -> dict[str, str]:
    """Headers that make every mail of a case one thread in the customer's mail client."""
    root = reply_address.thread_root_id(case.number)
    return {"In-Reply-To": root, "References": root}


# Not @transaction.atomic: the one insert needs no savepoint, and outside a transaction the
# row commits at once.
def enqueue_email(
    *,
    key: str,
    to: list[str],
    subject: str,
    text: str,
    html: str = "",
    case: Case | None = None,
    reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    flow: Any = None,
    failed_reason: str = "",
) -> OutboundEmail:
    """Write one outbox row (idempotent on ``key``) and deliver it after commit.

    A second call with the same key returns the existing row and writes nothing.
    ``failed_reason`` records a row that must not be sent (a template that did not
    render), so the failure is visible in the admin instead of lost in a log.
    """
    key = normalise_key(key)
    all_headers: dict[str, str] = {}
    if case is not None:
        all_headers.update(case_headers(case))
        if reply_to is None:
            reply_to = reply_address.make(case.number)
    all_headers.update(headers or {})
    now = timezone.now()
    row = OutboundEmail(
        key=key,
        case=case,
        to=[addr.strip() for addr in to if addr and addr.strip()],
        reply_to=reply_to or "",
        subject=" ".join(subject.split())[:998],
        text=text,
        html=html,
        headers=all_headers,
        message_id=message_id_for(key, case),
        flow=flow,
        created_at=now,
        updated_at=now,
        retry_until=now + timedelta(seconds=settings.OUTBOX_RETRY_WINDOW_SECONDS),
    )
    if failed_reason:
        row.status = OutboundEmail.Status.FAILED
        row.last_error = failed_reason
    # Insert first, look up only on conflict: the common case costs one statement, and a
    # duplicate key leaves the caller's transaction usable.
    if not insert_unless_conflict(row):
        return OutboundEmail.objects.get(key=key)
    if row.status == OutboundEmail.Status.QUEUED:
        schedule_delivery(row.pk)
    return row


# One task carries at most this many rows (an inbound batch writes hundreds at once).
DELIVERY_CHUNK = 100


def schedule_delivery(outbound_id: int) -> None:
    """Enqueue delivery once the current transaction commits (a rollback sends nothing).

    The rows one transaction writes go out together: one task per DELIVERY_CHUNK rows
    rather than one each, since publishing a task costs about as much as writing the row.
    """
    from notifications.tasks import deliver_email_task

    connection = transaction.get_connection()
    if not connection.in_atomic_block:  # autocommit: the row is already committed
        deliver_email_task.delay(outbound_id)
        return
    pending = getattr(connection, "_casedesk_pending_delivery", None)
    # Django drops the on-commit callbacks of a rolled-back transaction or savepoint; a list
    # whose callback is gone belongs to work that was undone, so start a new one.
    if pending is None or not any(func is pending for _, func, _ in connection.run_on_commit):
        pending = _PendingDelivery()
        connection._casedesk_pending_delivery = pending
        transaction.on_commit(pending)
    pending.ids.append(outbound_id)


class _PendingDelivery:
    """The outbox rows of one transaction, enqueued when it commits."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self) -> None:
        from notifications.tasks import deliver_email_task, deliver_emails_task

        if len(self.ids) == 1:
            deliver_email_task.delay(self.ids[0])
            return
        for start in range(0, len(self.ids), DELIVERY_CHUNK):
            deliver_emails_task.delay(self.ids[start : start + DELIVERY_CHUNK])
