"""Email intake tasks: poll every active IMAP mailbox (one task per mailbox)."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from cases.intake.imap import poll_and_record
from cases.intake.models import ImapMailbox

_LOCK_SECONDS = 15 * 60


@shared_task(ignore_result=True)
def imap_poll_all_task() -> int:
    ids = list(ImapMailbox.objects.filter(active=True).values_list("pk", flat=True))
    for pk in ids:
        imap_poll_mailbox_task.delay(pk)
    return len(ids)


@shared_task(acks_late=True, ignore_result=True)
def imap_poll_mailbox_task(mailbox_id: int) -> int:
    # One poller per mailbox at a time (beat may fire again while a big batch runs).
    lock = f"intake:imap-poll:{mailbox_id}"
    if not cache.add(lock, 1, _LOCK_SECONDS):
        return 0
    try:
        mailbox = ImapMailbox.objects.filter(pk=mailbox_id, active=True).first()
        if mailbox is None:
            return 0
        return poll_and_record(mailbox=mailbox).fetched
    finally:
        cache.delete(lock)
