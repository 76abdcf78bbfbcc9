"""The customer's rating of a resolved case (issue 4: satisfaction)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from access import policy
from accounts.models import User
from cases.models import Case, CaseEvent, CaseSatisfaction
from lib import events
from lib.errors import DomainError


@transaction.atomic
def case_rate(*, actor: User, case: Case, rating: int, comment: str = "") -> CaseSatisfaction:
    """Record the customer's 1-5 rating once the case is resolved or closed; once per case."""
    contact = policy.portal_contact(actor)
    if contact is None:
        raise PermissionDenied("Only customers rate their cases.")
    policy.check(actor, "read", "case", case)
    # Read the status under the row lock: the caller's copy may be stale.
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.is_open:
        raise DomainError("You can rate a case once it is resolved.", field="rating")
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise DomainError("Choose a rating from 1 to 5.", field="rating")
    comment = comment.strip()
    if len(comment) > 2000:
        raise DomainError("Keep the comment under 2,000 characters.", field="comment")
    if CaseSatisfaction.objects.filter(case=case).exists():
        raise DomainError("This case has already been rated.", field="rating")
    try:
        # A savepoint, so a double submit racing past the check above fails cleanly.
        with transaction.atomic():
            rated = CaseSatisfaction.objects.create(
                case=case,
                rating=rating,
                comment=comment,
                contact=contact,
                created_at=timezone.now(),
            )
    except IntegrityError:
        raise DomainError("This case has already been rated.", field="rating") from None
    CaseEvent.objects.create(
        case=case,
        actor=actor,
        kind=CaseEvent.Kind.FIELD_CHANGED,
        field="satisfaction",
        new_value=f"{rating}/5",
    )
    events.publish("case.rated", case_id=case.pk, actor_id=actor.pk, rating=rating)
    return rated
