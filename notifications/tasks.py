"""Outbox delivery tasks. Thin: the claim, the send and the bookkeeping are in services."""

from __future__ import annotations

from celery import shared_task

from notifications import services


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def deliver_email_task(self, outbound_id: int) -> str:
    result = services.outbound_deliver(outbound_id=outbound_id)
    if result.outcome == "retry" and not self.request.is_eager:
        # The row is back in queued with next_attempt_at; the retry claims it again.
        raise self.retry(countdown=result.retry_in)
    # Eager mode (embedded default) never retries in process: the sweep picks the row up.
    return result.outcome


@shared_task(ignore_result=True)
def outbox_sweep_task() -> int:
    return len(services.outbox_sweep())
