"""Outbox delivery: claim a row, send it over SMTP, record the outcome.

A row is claimed with a conditional UPDATE (queued -> sending), so two workers given the
same id never both send it. Transient SMTP failures put the row back to queued with a
backoff; permanent ones (5xx) mark it failed with the server's reason.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from lib.db import update_returning_pks
from notifications.models import OutboundEmail
from notifications.outbox import schedule_delivery

logger = logging.getLogger(__name__)

# Headers every outbound mail carries. Auto-Submitted tells well-behaved auto-responders
# not to answer; X-Auto-Response-Suppress does the same for Exchange/Outlook.
_AUTO_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


@dataclass(frozen=True)
class DeliveryResult:
    outcome: str  # "sent", "skipped", "retry", "failed"
    retry_in: float | None = None
    error: str = ""


class PermanentFailure(Exception):
    pass


def build_message(row: OutboundEmail, connection=None) -> EmailMultiAlternatives:
    headers = {**row.headers, **_AUTO_HEADERS, "Message-ID": row.message_id}
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.text,
        from_email=row.from_address,
        to=row.to,
        reply_to=[row.reply_to] if row.reply_to else None,
        headers=headers,
        connection=connection,
    )
    if row.html:
        message.attach_alternative(row.html, "text/html")
    return message


# One SMTP connection per worker thread, reused between tasks: connecting, EHLO and QUIT
# cost more than sending a small message. Keyed on the settings so a change reconnects.
class _SmtpSlot(threading.local):
    def __init__(self) -> None:
        self.state: dict[str, Any] = {"key": None, "conn": None, "opened": 0.0}


_SLOT = _SmtpSlot()
_SMTP_MAX_AGE = 60.0


def _smtp_key() -> tuple:
    return (
        settings.EMAIL_BACKEND,
        getattr(settings, "EMAIL_HOST", ""),
        getattr(settings, "EMAIL_PORT", 0),
        getattr(settings, "EMAIL_HOST_USER", ""),
    )


def _close_smtp() -> None:
    _SMTP = _SLOT.state
    conn = _SMTP["conn"]
    _SMTP.update(key=None, conn=None, opened=0.0)
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


def _send_reusing_connection(row: OutboundEmail) -> None:
    _SMTP = _SLOT.state
    key = _smtp_key()
    fresh = False
    if (
        _SMTP["conn"] is None
        or _SMTP["key"] != key
        or (time.monotonic() - _SMTP["opened"] > _SMTP_MAX_AGE)
    ):
        _close_smtp()
        conn = get_connection(timeout=settings.OUTBOX_SMTP_TIMEOUT)
        conn.open()
        _SMTP.update(key=key, conn=conn, opened=time.monotonic())
        fresh = True
    try:
        build_message(row, _SMTP["conn"]).send()
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
        # The server answered: a real refusal, not a dead connection. Start afresh next time.
        _close_smtp()
        raise
    except OSError:  # disconnected, reset, timed out (SMTP errors are OSErrors too)
        _close_smtp()
        if fresh:
            raise
        # The kept connection had gone stale (server timeout): one try on a new one.
        _send_reusing_connection(row)
    except Exception:
        # After a refusal the session state is unknown: start the next mail afresh.
        _close_smtp()
        raise


def _classify(exc: Exception) -> bool:
    """True if the failure is worth retrying (4xx, connection trouble), False if permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return any(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500 or exc.smtp_code < 200
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    return isinstance(exc, OSError | socket.timeout | TimeoutError)


def _backoff(attempts: int) -> float:
    base = settings.OUTBOX_RETRY_BASE_SECONDS
    return min(base * (2 ** max(attempts - 1, 0)), 3600.0)


def outbound_deliver(*, outbound_id: int, connection=None) -> DeliveryResult:
    """Send one outbox row if it is still queued; safe to call any number of times."""
    return outbound_deliver_many(outbound_ids=[outbound_id], connection=connection)[outbound_id]


def outbound_deliver_many(*, outbound_ids: list[int], connection=None) -> dict[int, DeliveryResult]:
    """Claim the rows still queued and due in one statement, then send them one by one.

    A row another worker claimed (or already sent) is "skipped". Each outcome is recorded
    as soon as its send ends, so a worker that dies mid-batch re-sends at most one mail.
    """
    results = {pk: DeliveryResult("skipped") for pk in outbound_ids}
    for row in _claim(outbound_ids):
        results[row.pk] = _send_claimed(row, connection)
    return results


def _claim(outbound_ids: list[int]) -> list[OutboundEmail]:
    now = timezone.now()
    claimed = update_returning_pks(
        OutboundEmail.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1)),
            pk__in=outbound_ids,
            status=OutboundEmail.Status.QUEUED,
        ),
        status=OutboundEmail.Status.SENDING,
        updated_at=now,
        attempts=F("attempts") + 1,
    )
    return list(OutboundEmail.objects.filter(pk__in=claimed).order_by("pk")) if claimed else []


def _send_claimed(row: OutboundEmail, connection=None) -> DeliveryResult:
    try:
        if not row.to:
            raise PermanentFailure("No recipients.")
        if connection is not None:
            build_message(row, connection).send()
        else:
            _send_reusing_connection(row)
    except Exception as exc:
        transient = not isinstance(exc, PermanentFailure) and _classify(exc)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        now = timezone.now()
        if transient and (row.retry_until is None or now < row.retry_until):
            delay = _backoff(row.attempts)
            OutboundEmail.objects.filter(pk=row.pk, status=OutboundEmail.Status.SENDING).update(
                status=OutboundEmail.Status.QUEUED,
                last_error=error,
                updated_at=now,
                next_attempt_at=now + timedelta(seconds=delay),
            )
            logger.warning("Outbox %s: transient failure, retry in %.1fs: %s", row.pk, delay, error)
            return DeliveryResult("retry", retry_in=delay, error=error)
        if transient:
            error = f"Gave up after {row.attempts} attempts: {error}"
        OutboundEmail.objects.filter(pk=row.pk).update(
            status=OutboundEmail.Status.FAILED, last_error=error, updated_at=now
        )
        logger.error("Outbox %s failed: %s", row.pk, error)
        return DeliveryResult("failed", error=error)
    OutboundEmail.objects.filter(pk=row.pk).update(
        status=OutboundEmail.Status.SENT,
        sent_at=timezone.now(),
        updated_at=timezone.now(),
        next_attempt_at=None,
        last_error="",
    )
    return DeliveryResult("sent")


@transaction.atomic
def outbound_retry(*, outbound: OutboundEmail) -> bool:
    """An admin asks to send a failed row again: a fresh retry window, delivered on commit."""
    now = timezone.now()
    # A row whose template did not render has nothing to send: fix the template instead.
    updated = (
        OutboundEmail.objects.filter(pk=outbound.pk, status=OutboundEmail.Status.FAILED)
        .exclude(text="", html="")
        .update(
            status=OutboundEmail.Status.QUEUED,
            next_attempt_at=None,
            updated_at=now,
            retry_until=now + timedelta(seconds=settings.OUTBOX_RETRY_WINDOW_SECONDS),
        )
    )
    if updated:
        schedule_delivery(outbound.pk)
    return bool(updated)


def outbox_sweep(*, now=None) -> list[int]:
    """Re-enqueue rows whose delivery was lost: queued too long, or stuck in sending.

    A row stuck in sending belonged to a worker that died mid-send; it goes back to queued.
    (If that worker had already handed the mail to the server, it is sent again, with the
    same Message-ID, so mail clients show it once.)
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.OUTBOX_STUCK_AFTER_SECONDS)
    stuck = list(
        OutboundEmail.objects.filter(
            status=OutboundEmail.Status.SENDING, updated_at__lt=stale
        ).values_list("pk", flat=True)[:1000]
    )
    # Conditional on still being in sending: a row that finished meanwhile is left alone.
    reset = list(stuck)
    if stuck:
        OutboundEmail.objects.filter(
            pk__in=stuck, status=OutboundEmail.Status.SENDING, updated_at__lt=stale
        ).update(status=OutboundEmail.Status.QUEUED, updated_at=now, next_attempt_at=None)
        reset = list(
            OutboundEmail.objects.filter(
                pk__in=stuck, status=OutboundEmail.Status.QUEUED, updated_at=now
            ).values_list("pk", flat=True)
        )
    ids = reset + list(
        OutboundEmail.objects.filter(status=OutboundEmail.Status.QUEUED)
        .filter(
            Q(updated_at__lt=stale, next_attempt_at__isnull=True) | Q(next_attempt_at__lt=stale)
        )
        .values_list("pk", flat=True)[:1000]
    )
    from notifications.tasks import deliver_email_task

    for pk in ids:
        deliver_email_task.delay(pk)
    return ids
