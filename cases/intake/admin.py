"""Admin for the inbound ledger (retry failed mail), IMAP mailboxes and queue intake settings.

Registered from notifications/admin.py: cases/intake is a package, not an app, so admin
autodiscovery does not import this module by itself.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html

from cases.intake.models import ImapMailbox, InboundEmail, QueueIntakeSettings
from cases.intake.services import inbound_retry

_RAW_SHOWN = 20_000


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "sender",
        "subject",
        "source",
        "status",
        "short_reason",
        "case_number",
    )
    list_filter = ("status", "source", "created_at")
    search_fields = ("sender", "subject", "message_id", "case__number")
    list_select_related = ("case",)
    actions = ["retry"]
    exclude = ("raw",)
    readonly_fields = [f.name for f in InboundEmail._meta.fields if f.name != "raw"] + [
        "raw_message"
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="reason")
    def short_reason(self, obj: InboundEmail) -> str:
        return obj.reason[:80]

    @admin.display(description="case")
    def case_number(self, obj: InboundEmail) -> str:
        return obj.case.number if obj.case_id else ""

    @admin.display(description="raw message (start)")
    def raw_message(self, obj: InboundEmail) -> str:
        text = bytes(obj.raw[:_RAW_SHOWN]).decode("utf-8", errors="replace")
        return format_html('<pre style="white-space:pre-wrap">{}</pre>', text)

    @admin.action(description="Apply the selected failed messages again")
    def retry(self, request: HttpRequest, queryset: Any) -> None:
        results = [
            inbound_retry(inbound=row).status
            for row in queryset.filter(status=InboundEmail.Status.FAILED)
        ]
        applied = results.count(InboundEmail.Status.APPLIED)
        self.message_user(
            request,
            f"{applied} applied, {len(results) - applied} still not applied.",
            messages.SUCCESS if applied else messages.WARNING,
        )


@admin.register(ImapMailbox)
class ImapMailboxAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "queue",
        "host",
        "username",
        "folder",
        "active",
        "last_uid",
        "last_polled_at",
        "last_error",
    )
    list_filter = ("active",)
    readonly_fields = ("uidvalidity", "last_uid", "last_polled_at", "last_error")


@admin.register(QueueIntakeSettings)
class QueueIntakeSettingsAdmin(admin.ModelAdmin):
    list_display = ("queue", "reject_unknown_senders")
