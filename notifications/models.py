"""Flows (trigger, conditions, ordered actions), email templates and the outbox."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from notifications.triggers import trigger_choices


class EmailTemplate(models.Model):
    """Subject, text and HTML bodies in Django template syntax, rendered with plain values."""

    slug = models.SlugField(max_length=100)
    language = models.CharField(max_length=10, default="en")
    name = models.CharField(max_length=200)
    subject = models.CharField(max_length=255)
    text_body = models.TextField(help_text="Plain-text body (always sent).")
    html_body = models.TextField(blank=True, help_text="Optional HTML body.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug", "language"]
        constraints = [
            models.UniqueConstraint(fields=["slug", "language"], name="emailtemplate_slug_lang")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class Flow(models.Model):
    """When <trigger> happens and the conditions hold, run the actions in order."""

    class Match(models.TextChoices):
        ALL = "all", "All conditions"
        ANY = "any", "Any condition"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    active = models.BooleanField(default=True)
    trigger = models.CharField(max_length=50, choices=trigger_choices)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    run_once_per_case = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=100, help_text="Flows run in this order.")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class FlowCondition(models.Model):
    class Operator(models.TextChoices):
        EQUALS = "equals", "equals"
        NOT_EQUALS = "not_equals", "does not equal"
        IN = "in", "is one of (comma-separated)"
        CONTAINS = "contains", "contains"
        CHANGED_TO = "changed_to", "changed to (comma-separated)"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField(
        max_length=60,
        help_text="A case field (status, priority, origin, type, subject, queue, owner, "
        "account, contact, account_tier) or an event value as event.<key>.",
    )
    operator = models.CharField(max_length=12, choices=Operator.choices, default=Operator.EQUALS)
    value = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.field} {self.get_operator_display()} {self.value}"


class FlowAction(models.Model):
    class Kind(models.TextChoices):
        SEND_EMAIL = "send_email", "Send an email"
        SET_FIELD = "set_field", "Set a case field"
        CREATE_ACTIVITY = "create_activity", "Create a follow-up activity"
        ADD_NOTE = "add_note", "Add an internal note"

    class Recipient(models.TextChoices):
        CONTACT = "contact", "The case's contact"
        OWNER = "owner", "The case's owner"
        QUEUE_MEMBERS = "queue_members", "The queue's members"
        ACCOUNT_CONTACTS = "account_contacts", "Other contacts of the account"
        FIXED = "fixed", "Fixed addresses"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="actions")
    position = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SEND_EMAIL)
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="actions"
    )
    recipient = models.CharField(max_length=20, choices=Recipient.choices, blank=True)
    addresses = models.TextField(blank=True, help_text="Fixed addresses, one per line.")
    field_name = models.CharField(
        max_length=40, blank=True, help_text="set_field: priority or type."
    )
    value = models.TextField(
        blank=True,
        help_text="set_field: the new value; add_note: the note (template syntax); "
        "create_activity: the subject.",
    )
    due_in_hours = models.PositiveIntegerField(default=24, help_text="create_activity only.")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"


class FlowRun(models.Model):
    """A flow ran for a case; used for "run once per case"."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["flow", "case"], name="flowrun_flow_case")]

    def __str__(self) -> str:
        return f"flow {self.flow_id} ran on case {self.case_id}"


class OutboundEmail(models.Model):
    """One email to send: written in the transaction that caused it, delivered by a task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=255, unique=True, help_text="Idempotency key.")
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to = models.JSONField(default=list)
    from_email = models.CharField(max_length=255, blank=True)
    reply_to = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=998)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    flow = models.ForeignKey(
        Flow, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    retry_until = models.DateTimeField(
        null=True, blank=True, help_text="Transient failures are retried until then."
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outbound email"
        indexes = [
            models.Index(fields=["status", "updated_at"], name="outbox_status_updated_idx"),
            models.Index(fields=["case", "created_at"], name="outbox_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} -> {', '.join(self.to)}"

    @property
    def from_address(self) -> str:
        return self.from_email or settings.DEFAULT_FROM_EMAIL
