"""A small, synchronous domain-event dispatcher.

Services call ``publish("case.created", case_id=..., actor_id=...)`` inside their
transaction. Two kinds of subscriber exist:

* ``after_commit`` (the default): run once the transaction has committed, so a
  rollback publishes nothing. Use for side effects outside the database.
* ``in_transaction``: run right away, inside the same transaction. Use only for
  writes that must commit or roll back together with the change (the outbox).

``instances`` carries the model objects the publisher already holds (the case it just
saved, the comment it just wrote). In-transaction subscribers may use them instead of
reading the rows again; the payload stays plain values, the record of what happened.

Handlers are registered at import time from each app's ``AppConfig.ready``.
No Django signals: every subscriber is listed where it subscribes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import transaction

logger = logging.getLogger(__name__)

Phase = Literal["after_commit", "in_transaction"]


@dataclass(frozen=True)
class DomainEvent:
    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    instances: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


Handler = Callable[[DomainEvent], None]

_handlers: dict[Phase, dict[str, list[Handler]]] = {
    "after_commit": defaultdict(list),
    "in_transaction": defaultdict(list),
}


def subscribe(name: str, *, phase: Phase = "after_commit") -> Callable[[Handler], Handler]:
    """Register the decorated function for the event ``name`` (``"*"`` for every event)."""

    def register(handler: Handler) -> Handler:
        if handler not in _handlers[phase][name]:
            _handlers[phase][name].append(handler)
        return handler

    return register


def unsubscribe(name: str, handler: Handler, *, phase: Phase = "after_commit") -> None:
    if handler in _handlers[phase][name]:
        _handlers[phase][name].remove(handler)


def _handlers_for(phase: Phase, name: str) -> list[Handler]:
    return [*_handlers[phase][name], *_handlers[phase]["*"]]


def publish(name: str, *, instances: dict[str, Any] | None = None, **payload: Any) -> DomainEvent:
    """Publish an event: in-transaction handlers now, the others after commit."""
    event = DomainEvent(name=name, payload=payload, instances=instances or {})
    for handler in _handlers_for("in_transaction", name):
        handler(event)
    transaction.on_commit(lambda: _deliver_after_commit(event))
    return event


def _deliver_after_commit(event: DomainEvent) -> None:
    # One failing subscriber must not stop the others: the change has committed.
    for handler in _handlers_for("after_commit", event.name):
        try:
            handler(event)
        except Exception:
            logger.exception("Event handler %r failed for %s", handler, event.name)
