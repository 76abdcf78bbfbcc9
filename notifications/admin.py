"""Admin screens: flows with a dry run, templates with a live preview, the outbox."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

# The intake ledger lives in cases/intake (a package, not an app): register its admin here.
import cases.intake.admin  # noqa: F401
from notifications import engine, rendering, services
from notifications.models import EmailTemplate, Flow, FlowAction, FlowCondition, OutboundEmail
from notifications.triggers import TRIGGERS

# -- flows ------------------------------------------------------------------------------


class FlowConditionInline(admin.TabularInline):
    model = FlowCondition
    extra = 0


class FlowActionInline(admin.StackedInline):
    model = FlowAction
    extra = 0
    fields = (
        ("position", "kind"),
        ("template", "recipient"),
        "addresses",
        ("field_name", "value"),
        "due_in_hours",
    )
    autocomplete_fields = ("template",)


class DryRunForm(forms.Form):
    case_number = forms.CharField(max_length=12)
    trigger = forms.ChoiceField(choices=())
    new_status = forms.CharField(
        required=False, help_text="Status changed: the new status value (default: current)."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["trigger"].choices = [(t.key, t.label) for t in TRIGGERS.values()]


def synthetic_event(trigger_key: str, case: Any, new_status: str = "") -> tuple[str, dict]:
    """An event like the one the services would publish for this case, for the dry run."""
    trigger = TRIGGERS[trigger_key]
    payload: dict[str, Any] = {"case_id": case.pk, "actor_id": None}
    if trigger.event == "case.status_changed":
        payload.update(old="", new=new_status or case.status)
    elif trigger.event == "case.priority_changed":
        payload.update(old="", new=case.priority)
    elif trigger.event == "case.assigned":
        payload.update(
            owner_id=case.owner_id,
            queue_id=case.queue_id,
            owner_changed=True,
            queue_changed=False,
            previous_owner_id=None,
        )
    elif trigger.event == "comment.added":
        by_agent = trigger_key == "agent_public_reply"
        comments = case.comments.filter(is_public=True, author_contact__isnull=by_agent)
        comment = comments.order_by("-created_at").first()
        payload.update(
            comment_id=comment.pk if comment else None,
            is_public=True,
            by_agent=by_agent,
            channel="desk",
        )
    return trigger.event, payload


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ("name", "trigger", "active", "run_once_per_case", "position")
    list_filter = ("active", "trigger")
    list_editable = ("active", "position")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [FlowConditionInline, FlowActionInline]

    # The engine caches the active flows briefly (engine.FLOW_CACHE_SECONDS): clear on change.
    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        engine.invalidate_flow_cache()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        engine.invalidate_flow_cache()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        engine.invalidate_flow_cache()

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        super().delete_queryset(request, queryset)
        engine.invalidate_flow_cache()

    def get_urls(self):
        urls = [
            path(
                "dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="notifications_flow_dry_run",
            ),
        ]
        return urls + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {
            **(extra_context or {}),
            "dry_run_url": reverse("admin:notifications_flow_dry_run"),
        }
        return super().changelist_view(request, extra_context)

    def dry_run_view(self, request: HttpRequest) -> HttpResponse:
        from cases.models import Case

        form = DryRunForm(request.GET or None)
        outcomes, case, error = [], None, ""
        if form.is_valid():
            case = (
                Case.objects.select_related("contact", "owner", "queue", "account")
                .filter(number=form.cleaned_data["case_number"].strip())
                .first()
            )
            if case is None:
                error = "No case with that number."
            else:
                event_name, payload = synthetic_event(
                    form.cleaned_data["trigger"], case, form.cleaned_data["new_status"]
                )
                outcomes = engine.dispatch(event_name, payload, dry_run=True, case=case)
                if not outcomes:
                    error = "No active flow has this trigger."
        context = {
            **self.admin_site.each_context(request),
            "title": "Flows: dry run",
            "opts": self.model._meta,
            "form": form,
            "case": case,
            "outcomes": outcomes,
            "error": error,
        }
        return TemplateResponse(request, "admin/notifications/flow/dry_run.html", context)


# -- templates ---------------------------------------------------------------------------


def preview_html(template: EmailTemplate, case_number: str = "") -> str:
    """The template rendered for a real case and its contact, or the error, as HTML."""
    from cases.models import Case

    cases = Case.objects.select_related("contact", "owner", "queue", "account")
    case = (cases.filter(number=case_number).first() if case_number else None) or cases.first()
    if case is None:
        return format_html("<p>Create a case to see a preview.</p>")
    recipient = case.contact or case.owner or rendering.ExternalRecipient("someone@example.com")
    comment = case.comments.filter(is_public=True).order_by("-created_at").first()
    context = rendering.build_context(case=case, recipient=recipient, comment=comment)
    try:
        rendered = rendering.render_template(template, context)
    except rendering.TemplateRenderError as exc:
        return format_html(
            '<p style="color:#b00;font-weight:bold">This template does not render:</p>'
            '<pre style="color:#b00;white-space:pre-wrap">{}</pre>',
            str(exc),
        )
    return format_html(
        "<p>For case {} and {}:</p><p><b>Subject:</b> {}</p>"
        '<pre style="white-space:pre-wrap;border:1px solid #ccc;padding:8px">{}</pre>'
        "{}",
        case.number,
        rendering.recipient_email(recipient),
        rendered.subject,
        rendered.text,
        format_html(
            '<p><b>HTML</b> (shown as source):</p><pre style="white-space:pre-wrap">{}</pre>',
            rendered.html,
        )
        if rendered.html
        else "",
    )


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "language", "renders", "updated_at")
    search_fields = ("name", "slug", "subject")
    readonly_fields = ("preview",)
    fields = ("name", "slug", "language", "subject", "text_body", "html_body", "preview")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        engine.invalidate_flow_cache()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        engine.invalidate_flow_cache()

    @admin.display(description="Preview (latest case; add ?case=<number> to the URL)")
    def preview(self, obj: EmailTemplate) -> str:
        if obj.pk is None:
            return "Save to see a preview."
        return preview_html(obj, getattr(obj, "preview_case", ""))

    @admin.display(boolean=True)
    def renders(self, obj: EmailTemplate) -> bool:
        context = {"case": {}, "recipient": {}, "site": {}}
        try:
            rendering.render_template(obj, context)
        except rendering.TemplateRenderError:
            return False
        return True

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # Per request, on the object: the admin instance is shared between requests.
            obj.preview_case = request.GET.get("case", "")
        return obj


# -- the outbox --------------------------------------------------------------------------


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ("created_at", "subject", "recipients", "status", "attempts", "case_number")
    list_filter = ("status", "created_at")
    search_fields = ("subject", "key", "message_id", "case__number")
    list_select_related = ("case",)
    actions = ["retry"]
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="to")
    def recipients(self, obj: OutboundEmail) -> str:
        return ", ".join(obj.to)

    @admin.display(description="case")
    def case_number(self, obj: OutboundEmail) -> str:
        return obj.case.number if obj.case_id else ""

    @admin.action(description="Send the selected failed emails again")
    def retry(self, request: HttpRequest, queryset: Any) -> None:
        count = sum(services.outbound_retry(outbound=row) for row in queryset)
        skipped = queryset.count() - count
        self.message_user(
            request,
            f"{count} queued again; {skipped} were not failed.",
            messages.SUCCESS if count else messages.WARNING,
        )
