"""The customer's rating of a case, for the desk (templates/cases/_satisfaction.html)."""

from __future__ import annotations

from typing import Any

from django import template

from cases.models import CaseSatisfaction

register = template.Library()


@register.simple_tag
def case_satisfaction(case: Any) -> dict[str, Any] | None:
    rated = CaseSatisfaction.objects.select_related("contact").filter(case=case).first()
    if rated is None:
        return None
    return {
        "rating": rated.rating,
        "comment": rated.comment,
        "contact": rated.contact,
        "created_at": rated.created_at,
        "stars": range(rated.rating),
        "empty": range(5 - rated.rating),
    }
