"""Rendering email templates with a sandboxed context.

Templates see plain strings and dicts only, never model instances, so ``{{ case.owner.password }}``
or a method call cannot reach anything. The case fields in the context are the ones the
recipient may read (``access.policy.recipient_readable_fields``). The engines have no
loaders and no tag libraries beyond Django's built-ins, so ``{% include %}`` and
``{% load %}`` cannot reach files or custom code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template import Context, Engine

from access import policy

# No directories, no app templates, no extra libraries: only what the string contains.
_HTML_ENGINE = Engine(dirs=[], app_dirs=False, libraries={}, autoescape=True)
_TEXT_ENGINE = Engine(dirs=[], app_dirs=False, libraries={}, autoescape=False)

CASE_TEMPLATE_FIELDS = (
    "number",
    "subject",
    "description",
    "status",
    "priority",
    "origin",
    "type",
    "account",
    "contact",
    "owner",
    "queue",
    "created_at",
)


class TemplateRenderError(Exception):
    pass


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class ExternalRecipient:
    """A fixed address with no account here: reads what a portal customer would."""

    email: str
    name: str = ""


def recipient_is_agent(recipient: Any) -> bool:
    return bool(getattr(recipient, "is_staff", False))


def recipient_email(recipient: Any) -> str:
    return (getattr(recipient, "email", "") or "").strip().lower()


def recipient_name(recipient: Any) -> str:
    if hasattr(recipient, "full_name"):
        return recipient.full_name or recipient.email
    if hasattr(recipient, "get_full_name"):
        return recipient.get_full_name()
    return getattr(recipient, "name", "") or getattr(recipient, "email", "")


def _case_value(case: Any, name: str) -> str:
    if name in ("status", "priority", "origin", "type"):
        return str(getattr(case, f"get_{name}_display")())
    if name == "created_at":
        return case.created_at.strftime("%Y-%m-%d %H:%M %Z")
    value = getattr(case, name)
    return "" if value is None else str(value)


def build_context(
    *, case: Any, recipient: Any, comment: Any = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Plain values only, limited to the fields this recipient may read."""
    readable = policy.recipient_readable_fields(recipient, "case", CASE_TEMPLATE_FIELDS)
    case_ctx: dict[str, str] = {name: _case_value(case, name) for name in readable}
    is_agent = recipient_is_agent(recipient)
    if is_agent:
        case_ctx["url"] = f"{settings.SITE_URL}/desk/cases/{case.number}/"
    else:
        case_ctx["url"] = f"{settings.SITE_URL}/portal/cases/{case.number}/"
    case_ctx["portal_url"] = f"{settings.SITE_URL}/portal/cases/{case.number}/"
    context: dict[str, Any] = {
        "case": case_ctx,
        "recipient": {"name": recipient_name(recipient), "email": recipient_email(recipient)},
        "site": {"name": "Casedesk", "url": settings.SITE_URL},
    }
    # Internal notes never reach someone who is not an agent.
    if comment is not None and (comment.is_public or is_agent):
        context["comment"] = {
            "body": comment.body,
            "author": comment.author_name,
            "is_public": comment.is_public,
        }
    if extra:
        context["event"] = {k: _plain(v) for k, v in extra.items()}
    return context


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def render_string(source: str, context: dict[str, Any], *, html: bool = False) -> str:
    engine = _HTML_ENGINE if html else _TEXT_ENGINE
    try:
        return engine.from_string(source).render(Context(context, autoescape=html))
    except Exception as exc:
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc


def render_template(template: Any, context: dict[str, Any]) -> Rendered:
    """Render subject, text and HTML; raise TemplateRenderError naming the part that broke."""
    parts = {}
    for part, source, html in (
        ("subject", template.subject, False),
        ("text", template.text_body, False),
        ("html", template.html_body, True),
    ):
        try:
            parts[part] = render_string(source, context, html=html) if source else ""
        except TemplateRenderError as exc:
            raise TemplateRenderError(f"Template {template.slug!r}, {part}: {exc}") from exc
    return Rendered(
        subject=" ".join(parts["subject"].split()), text=parts["text"], html=parts["html"]
    )
