"""The registry of flow triggers: a trigger is a domain event plus a test on its payload.

Later issues extend it (SLA warnings and breaches, payment events) by calling ``register``
from their AppConfig.ready; the flow engine subscribes to every registered event name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Trigger:
    key: str
    label: str
    event: str
    applies: Callable[[dict[str, Any]], bool] = lambda payload: True


TRIGGERS: dict[str, Trigger] = {}


def register(trigger: Trigger) -> Trigger:
    TRIGGERS[trigger.key] = trigger
    return trigger


def trigger_choices() -> list[tuple[str, str]]:
    return [(t.key, t.label) for t in TRIGGERS.values()]


def triggers_for_event(event: str) -> list[Trigger]:
    return [t for t in TRIGGERS.values() if t.event == event]


register(Trigger("case_created", "Case created", "case.created"))
register(Trigger("status_changed", "Status changed", "case.status_changed"))
register(
    Trigger(
        "agent_public_reply",
        "Public reply by an agent",
        "comment.added",
        lambda p: bool(p.get("is_public")) and bool(p.get("by_agent")),
    )
)
register(
    Trigger(
        "customer_reply",
        "Customer reply",
        "comment.added",
        lambda p: bool(p.get("is_public")) and not p.get("by_agent"),
    )
)
register(Trigger("assigned", "Assigned", "case.assigned"))
register(Trigger("priority_changed", "Priority changed", "case.priority_changed"))
register(Trigger("resolved", "Resolved", "case.resolved"))
register(Trigger("reopened", "Reopened", "case.reopened"))
