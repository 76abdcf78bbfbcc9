"""Outbox delivery tasks. Thin: the claim, the send and the bookkeeping are in services."""

from __future__ import annotations

import logging

from celery import shared_task

from notifications import services

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def deliver_email_task(self, outbound_id: int) -> str:
    result = services.outbound_deliver(outbound_id=outbound_id)
    if result.outcome == "retry" and not self.request.is_eager:
        # The row is back in queued with next_attempt_at; the retry claims it again.
        raise self.retry(countdown=result.retry_in)
    # Eager mode (embedded default) never retries in process: the sweep picks the row up.
    return result.outcome


@shared_task(bind=True, acks_late=True, ignore_result=True)
def deliver_emails_task(self, outbound_ids: list[int]) -> int:
    """Deliver the rows one transaction wrote, claimed together, over one SMTP connection.

    A row that must wait (transient failure) is retried on its own task.
    """
    try:
        results = services.outbound_deliver_many(outbound_ids=outbound_ids)
    except Exception:
        # The claim or a bookkeeping write broke (database trouble): rows already claimed
        # are stuck in "sending" and the sweep puts them back; the rest are still queued.
        logger.exception("Outbox batch of %s: delivery broke; the sweep will retry", outbound_ids)
        return 0
    for outbound_id, result in results.items():
        if result.outcome == "retry" and not self.request.is_eager:
            deliver_email_task.apply_async((outbound_id,), countdown=result.retry_in)
    return sum(result.outcome == "sent" for result in results.values())


@shared_task(ignore_result=True)
def outbox_sweep_task() -> int:
    return len(services.outbox_sweep())
