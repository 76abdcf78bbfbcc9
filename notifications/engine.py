"""The flow engine: domain event -> matching flows -> conditions -> ordered actions.

It runs inside the publishing transaction (phase="in_transaction"), so the outbox rows it
writes commit or roll back with the change. Nothing it does may break that change: each
flow runs in a savepoint and any error is logged (template errors become failed outbox
rows, visible in the admin).
"""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from lib import events, snapshot
from lib.db import insert_unless_conflict
from lib.snapshot import snapshot_value
from notifications import rendering
from notifications.models import Flow, FlowAction, FlowCondition, FlowRun
from notifications.outbox import enqueue_email
from notifications.triggers import triggers_for_event

logger = logging.getLogger(__name__)

# Flows may change a case, which publishes events, which run flows: bound the chain.
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("flow_depth", default=0)
MAX_DEPTH = 3

CASE_CONDITION_FIELDS = (
    "status",
    "priority",
    "origin",
    "type",
    "subject",
    "queue",
    "owner",
    "account",
    "contact",
    "account_tier",
)


@dataclass
class PlannedEmail:
    flow: str
    key: str
    to: str
    subject: str = ""
    text: str = ""
    html: str = ""
    error: str = ""


@dataclass
class FlowOutcome:
    flow: Flow
    matched: bool
    emails: list[PlannedEmail] = field(default_factory=list)
    other_actions: list[str] = field(default_factory=list)


# -- conditions ---------------------------------------------------------------------------


def _case_field(case: Any, name: str) -> str:
    if name == "queue":
        return case.queue.slug if case.queue_id else ""
    if name == "owner":
        return case.owner.email if case.owner_id else ""
    if name == "account":
        return case.account.name if case.account_id else ""
    if name == "account_tier":
        return case.account.tier if case.account_id else ""
    if name == "contact":
        return case.contact.email if case.contact_id else ""
    value = getattr(case, name, "")
    return "" if value is None else str(value)


def _changed_fields(event_name: str, payload: dict[str, Any]) -> set[str]:
    if event_name in ("case.status_changed", "case.resolved", "case.reopened"):
        return {"status"}
    if event_name == "case.priority_changed":
        return {"priority"}
    if event_name == "case.assigned":
        changed = set()
        if payload.get("owner_changed"):
            changed.add("owner")
        if payload.get("queue_changed"):
            changed.add("queue")
        return changed
    if event_name == "case.updated":
        return set(payload.get("changes", {}))
    return set()


def _values(raw: str) -> list[str]:
    return [v.strip().lower() for v in raw.split(",") if v.strip()]


def condition_holds(
    condition: FlowCondition, case: Any, event_name: str, payload: dict[str, Any]
) -> bool:
    name = condition.field.strip()
    if name.startswith("event."):
        actual = str(payload.get(name.removeprefix("event."), "")).lower()
    else:
        actual = _case_field(case, name).lower()
    expected = condition.value.strip().lower()
    op = condition.operator
    if op == FlowCondition.Operator.EQUALS:
        return actual == expected
    if op == FlowCondition.Operator.NOT_EQUALS:
        return actual != expected
    if op == FlowCondition.Operator.IN:
        return actual in _values(condition.value)
    if op == FlowCondition.Operator.CONTAINS:
        return expected in actual
    if op == FlowCondition.Operator.CHANGED_TO:
        if name in ("status", "priority") and payload.get("new"):
            # The value the event reports (a dry run may ask "what if it changed to X").
            actual = str(payload["new"]).lower()
        return name in _changed_fields(event_name, payload) and actual in _values(condition.value)
    return False


def flow_matches(flow: Flow, case: Any, event_name: str, payload: dict[str, Any]) -> bool:
    conditions = list(flow.conditions.all())
    if not conditions:
        return True
    results = (condition_holds(c, case, event_name, payload) for c in conditions)
    return all(results) if flow.match == Flow.Match.ALL else any(results)


# -- recipients ---------------------------------------------------------------------------


def recipients_for(action: FlowAction, case: Any, actor_id: int | None) -> list[Any]:
    from accounts.models import Contact, User

    kind = action.recipient
    found: list[Any] = []
    if kind == FlowAction.Recipient.CONTACT and case.contact_id:
        found = [case.contact]
    elif kind == FlowAction.Recipient.OWNER and case.owner_id:
        found = [case.owner]
    elif kind == FlowAction.Recipient.QUEUE_MEMBERS and case.queue_id:
        found = list(case.queue.members.filter(is_active=True))
    elif kind == FlowAction.Recipient.ACCOUNT_CONTACTS and case.account_id:
        found = list(Contact.objects.filter(account_id=case.account_id).exclude(pk=case.contact_id))
    elif kind == FlowAction.Recipient.FIXED:
        for line in action.addresses.splitlines():
            email = line.strip().lower()
            if not email:
                continue
            # A fixed address that is a user or contact here reads what they may read.
            person = (
                User.objects.filter(email=email).first()
                or Contact.objects.filter(email=email).first()
                or rendering.ExternalRecipient(email=email)
            )
            found.append(person)
    # Agents are not told about their own action (assigning a case to oneself).
    return [
        r
        for r in found
        if rendering.recipient_email(r)
        and not (rendering.recipient_is_agent(r) and actor_id is not None and r.pk == actor_id)
    ]


# -- running ------------------------------------------------------------------------------


def event_identity(event_name: str, payload: dict[str, Any], case: Any) -> str:
    """A stable id for one occurrence of an event (part of the outbox idempotency key)."""
    from cases.models import CaseEvent

    if "event_id" in payload:
        return f"{event_name}:{payload['event_id']}"
    if "comment_id" in payload:
        return f"{event_name}:comment{payload['comment_id']}"
    if event_name == "case.created":
        return f"{event_name}:case{case.pk}"  # happens once per case
    # Every case service writes its history row before publishing: the latest one is
    # this occurrence.
    last = CaseEvent.objects.filter(case_id=case.pk).order_by("-pk").values_list("pk", flat=True)
    return f"{event_name}:case{case.pk}:h{last.first() or 0}"


def _comment_for(payload: dict[str, Any]) -> Any:
    from cases.models import CaseComment

    comment_id = payload.get("comment_id")
    if not comment_id:
        return None
    return (
        CaseComment.objects.select_related("author_user", "author_contact")
        .filter(pk=comment_id)
        .first()
    )


def run_flow(
    flow: Flow,
    case: Any,
    event_name: str,
    payload: dict[str, Any],
    *,
    dry_run: bool,
    comment: Any = None,
) -> FlowOutcome:
    outcome = FlowOutcome(flow=flow, matched=flow_matches(flow, case, event_name, payload))
    if not outcome.matched:
        return outcome
    if flow.run_once_per_case:
        if dry_run:
            already = FlowRun.objects.filter(flow=flow, case_id=case.pk).exists()
        else:
            # The unique (flow, case) row is the claim: insert, and a conflict means it ran.
            already = not insert_unless_conflict(FlowRun(flow=flow, case_id=case.pk))
        if already:
            outcome.matched = False
            outcome.other_actions.append("already ran for this case")
            return outcome
    identity = event_identity(event_name, payload, case)
    comment = comment or _comment_for(payload)
    actor_id = payload.get("actor_id")
    for action in flow.actions.all():
        if action.kind == FlowAction.Kind.SEND_EMAIL:
            outcome.emails.extend(
                _send_email(flow, action, case, identity, comment, actor_id, payload, dry_run)
            )
        else:
            outcome.other_actions.append(str(action))
            if not dry_run:
                _other_action(action, case, comment)
    return outcome


def _send_email(
    flow: Flow,
    action: FlowAction,
    case: Any,
    identity: str,
    comment: Any,
    actor_id: Any,
    payload: dict[str, Any],
    dry_run: bool,
) -> list[PlannedEmail]:
    planned = []
    if action.template is None:
        return planned
    for recipient in recipients_for(action, case, actor_id):
        email = rendering.recipient_email(recipient)
        key = f"flow{flow.pk}:a{action.pk}:{identity}:{email}"
        plan = PlannedEmail(flow=flow.name, key=key, to=email)
        context = rendering.build_context(
            case=case, recipient=recipient, comment=comment, extra=_event_extra(payload)
        )
        try:
            rendered = rendering.render_template(action.template, context)
            plan.subject, plan.text, plan.html = rendered.subject, rendered.text, rendered.html
        except rendering.TemplateRenderError as exc:
            plan.error = str(exc)
        planned.append(plan)
        if dry_run:
            continue
        enqueue_email(
            key=key,
            to=[email],
            subject=plan.subject or f"[{case.number}] (template error)",
            text=plan.text,
            html=plan.html,
            case=case,
            flow=flow,
            failed_reason=plan.error,
        )
        if plan.error:
            logger.error("Flow %s: %s", flow.slug, plan.error)
    return planned


def _event_extra(payload: dict[str, Any]) -> dict[str, Any]:
    from cases.models import Case

    extra = {k: v for k, v in payload.items() if k in ("old", "new", "owner_changed", "channel")}
    for k in ("old", "new"):
        if k in extra and extra[k] in Case.Status.values:
            extra[f"{k}_label"] = Case.Status(extra[k]).label
    return extra


def _other_action(action: FlowAction, case: Any, comment: Any) -> None:
    from cases import services as case_services
    from cases.models import Activity

    if action.kind == FlowAction.Kind.SET_FIELD and action.field_name in ("priority", "type"):
        case_services.case_update(actor=None, case=case, **{action.field_name: action.value})
    elif action.kind == FlowAction.Kind.CREATE_ACTIVITY:
        case_services.activity_create(
            actor=None,
            case=case,
            kind=Activity.Kind.FOLLOW_UP,
            subject=action.value or "Follow up",
            owner=case.owner,
            due_at=timezone.now() + timedelta(hours=action.due_in_hours),
        )
    elif action.kind == FlowAction.Kind.ADD_NOTE and action.value.strip():
        body = rendering.render_string(
            action.value, {"case": {"number": case.number, "subject": case.subject}}
        )
        case_services.comment_add(actor=None, case=case, body=body, is_public=False)


def _load_case(case_id: int) -> Any:
    from cases.models import Case

    return (
        Case.objects.select_related("contact", "owner", "queue", "account")
        .filter(pk=case_id)
        .first()
    )


FLOW_VERSION_KEY = "notifications:flows-version"
# Flows change rarely and every case change asks for them. Each process keeps the compiled
# set, checked against a version in the shared cache on every use (one small read), so an
# admin's change shows everywhere at once; other edits (shell, migrations) show within
# FLOW_CACHE_SECONDS. The truth stays in the database and the shared cache.
FLOW_CACHE_SECONDS = 30


@dataclass
class _CompiledFlows:
    version: str = ""
    loaded_at: float = float("-inf")
    by_trigger: dict[str, list[Flow]] = field(default_factory=dict)


_compiled = _CompiledFlows()


def _flows_version() -> str:
    version = cache.get(FLOW_VERSION_KEY)
    if version is None:
        cache.add(FLOW_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(FLOW_VERSION_KEY) or ""
    return version


def _active_flows() -> dict[str, list[Flow]]:
    return snapshot_value(FLOW_VERSION_KEY, _compiled_flows)


def _compiled_flows() -> dict[str, list[Flow]]:
    global _compiled
    version = _flows_version()
    if (
        version
        and version == _compiled.version
        and time.monotonic() - _compiled.loaded_at < FLOW_CACHE_SECONDS
    ):
        return _compiled.by_trigger
    by_trigger: dict[str, list[Flow]] = {}
    for flow in Flow.objects.filter(active=True).prefetch_related(
        "conditions", "actions__template"
    ):
        by_trigger.setdefault(flow.trigger, []).append(flow)
    _compiled = _CompiledFlows(version=version, loaded_at=time.monotonic(), by_trigger=by_trigger)
    return by_trigger


def invalidate_flow_cache() -> None:
    global _compiled
    _compiled = _CompiledFlows()
    snapshot.forget()
    cache.set(FLOW_VERSION_KEY, uuid.uuid4().hex, timeout=None)


def flows_for(event_name: str, payload: dict[str, Any], *, fresh: bool = False) -> list[Flow]:
    keys = [t.key for t in triggers_for_event(event_name) if t.applies(payload)]
    if not keys:
        return []
    if fresh:
        return list(
            Flow.objects.filter(active=True, trigger__in=keys).prefetch_related(
                "conditions", "actions__template"
            )
        )
    by_trigger = _active_flows()
    found = [flow for key in keys for flow in by_trigger.get(key, [])]
    return sorted(found, key=lambda f: (f.position, f.pk))


def dispatch(
    event_name: str,
    payload: dict[str, Any],
    *,
    dry_run: bool = False,
    case: Any = None,
    comment: Any = None,
) -> list[FlowOutcome]:
    """Run (or, with dry_run, plan) every active flow the event triggers.

    ``case`` and ``comment`` are the publisher's own objects when it has them; otherwise
    they are read from the payload's ids.
    """
    # A dry run reads the flows as they are now, never the cached copy.
    flows = flows_for(event_name, payload, fresh=dry_run)
    if not flows:
        return []
    case = case or _load_case(payload.get("case_id") or 0)
    if case is None:
        return []
    outcomes = []
    for flow in flows:
        if dry_run:
            outcomes.append(run_flow(flow, case, event_name, payload, dry_run=True))
            continue
        try:
            # Conditions only read: a flow that does not match, or has nobody to tell,
            # costs no savepoint.
            if not flow_matches(flow, case, event_name, payload):
                outcomes.append(FlowOutcome(flow=flow, matched=False))
                continue
            if _nobody_to_tell(flow, case):
                outcomes.append(FlowOutcome(flow=flow, matched=True))
                continue
            with transaction.atomic():
                outcomes.append(
                    run_flow(flow, case, event_name, payload, dry_run=False, comment=comment)
                )
        except Exception:
            # The change that published the event must go through whatever a flow does.
            logger.exception("Flow %s failed on %s for case %s", flow.slug, event_name, case.pk)
    return outcomes


def _nobody_to_tell(flow: Flow, case: Any) -> bool:
    """Every action only emails the case's contact or owner, and the case has neither.

    A run-once flow still runs (its claim is recorded), as it always has.
    """
    if flow.run_once_per_case:
        return False
    actions = list(flow.actions.all())
    return bool(actions) and all(
        action.kind == FlowAction.Kind.SEND_EMAIL
        and (
            (action.recipient == FlowAction.Recipient.CONTACT and not case.contact_id)
            or (action.recipient == FlowAction.Recipient.OWNER and not case.owner_id)
        )
        for action in actions
    )


def on_event(event: events.DomainEvent) -> None:
    depth = _DEPTH.get()
    if depth >= MAX_DEPTH:
        logger.warning("Flow chain too deep at %s; stopping", event.name)
        return
    token = _DEPTH.set(depth + 1)
    try:
        dispatch(
            event.name,
            event.payload,
            case=event.instances.get("case"),
            comment=event.instances.get("comment"),
        )
    except Exception:
        logger.exception("Flow dispatch failed on %s", event.name)
    finally:
        _DEPTH.reset(token)


# Every event: triggers registered later (SLA, billing) need no new subscription, and an
# event no trigger uses costs one dict lookup.
events.subscribe("*", phase="in_transaction")(on_event)
