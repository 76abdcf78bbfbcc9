"""Periodic portal housekeeping (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from accounts.invitations import invitation_expire_stale


@shared_task(acks_late=True)
def portal_invitations_expire_task() -> int:
    """Mark pending invitations past their 72 h as expired, so admin filters tell the truth.

    Idempotent: a conditional UPDATE; links already refuse expired tokens on their own.
    """
    return invitation_expire_stale()
