"""Cases and everything hung on them: comments, attachments, history, activities, queues."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Account, Contact


class Queue(models.Model):
    """A team inbox: cases are routed to a queue and worked by its member agents."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    inbound_address = models.EmailField(
        unique=True, null=True, blank=True, help_text="Mail sent here becomes a case in this queue."
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="queues",
        limit_choices_to={"is_staff": True},
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Counter(models.Model):
    """A named, gap-tolerant counter; the row lock serialises allocation (case numbers)."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class Case(models.Model):
    class StatusCategory(models.TextChoices):
        OPEN = "open", "Open"
        WAITING = "waiting", "Waiting"
        CLOSED = "closed", "Closed"

    class Status(models.TextChoices):
        NEW = "new", "New"
        IN_PROGRESS = "in_progress", "In Progress"
        WAITING_ON_CUSTOMER = "waiting_on_customer", "Waiting on Customer"
        ESCALATED = "escalated", "Escalated"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    class Origin(models.TextChoices):
        EMAIL = "email", "Email"
        WEB = "web", "Web"
        PORTAL = "portal", "Portal"
        PHONE = "phone", "Phone"
        API = "api", "API"
        AGENT = "agent", "Agent"

    class Type(models.TextChoices):
        QUESTION = "question", "Question"
        PROBLEM = "problem", "Problem"
        INCIDENT = "incident", "Incident"
        FEATURE_REQUEST = "feature_request", "Feature request"

    number = models.CharField(max_length=12, unique=True, editable=False)
    subject = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.AGENT)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.QUESTION)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_cases",
        limit_choices_to={"is_staff": True},
    )
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The desk's default views: open cases newest first, mine, a queue's, unassigned.
            models.Index(fields=["status", "-created_at"], name="case_status_created_idx"),
            models.Index(fields=["owner", "status", "-created_at"], name="case_owner_status_idx"),
            models.Index(fields=["queue", "status", "-created_at"], name="case_queue_status_idx"),
            models.Index(fields=["account", "-created_at"], name="case_account_idx"),
            models.Index(fields=["contact", "-created_at"], name="case_contact_idx"),
            models.Index(fields=["priority", "-created_at"], name="case_priority_idx"),
            models.Index(fields=["origin", "-created_at"], name="case_origin_idx"),
            models.Index(fields=["-updated_at"], name="case_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @staticmethod
    def category_of(status: str) -> str:
        return STATUS_CATEGORY[status]

    @property
    def status_category(self) -> str:
        return STATUS_CATEGORY[self.status]

    @property
    def is_open(self) -> bool:
        return self.status_category != Case.StatusCategory.CLOSED

    @classmethod
    def statuses_in(cls, category: str) -> list[str]:
        return [s for s, c in STATUS_CATEGORY.items() if c == category]


STATUS_CATEGORY: dict[str, str] = {
    Case.Status.NEW: Case.StatusCategory.OPEN,
    Case.Status.IN_PROGRESS: Case.StatusCategory.OPEN,
    Case.Status.ESCALATED: Case.StatusCategory.OPEN,
    Case.Status.WAITING_ON_CUSTOMER: Case.StatusCategory.WAITING,
    Case.Status.RESOLVED: Case.StatusCategory.CLOSED,
    Case.Status.CLOSED: Case.StatusCategory.CLOSED,
}

# The workflow: which status may follow which. Leaving Resolved or Closed is a reopen.
_S = Case.Status
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.NEW: frozenset(
        {_S.IN_PROGRESS, _S.WAITING_ON_CUSTOMER, _S.ESCALATED, _S.RESOLVED, _S.CLOSED}
    ),
    _S.IN_PROGRESS: frozenset({_S.WAITING_ON_CUSTOMER, _S.ESCALATED, _S.RESOLVED, _S.CLOSED}),
    _S.WAITING_ON_CUSTOMER: frozenset({_S.IN_PROGRESS, _S.ESCALATED, _S.RESOLVED, _S.CLOSED}),
    _S.ESCALATED: frozenset({_S.IN_PROGRESS, _S.WAITING_ON_CUSTOMER, _S.RESOLVED, _S.CLOSED}),
    _S.RESOLVED: frozenset({_S.CLOSED, _S.IN_PROGRESS}),
    _S.CLOSED: frozenset({_S.IN_PROGRESS}),
}


class CaseComment(models.Model):
    """A public reply (the customer sees it) or an internal note (agents only)."""

    class Channel(models.TextChoices):
        DESK = "desk", "Desk"
        PORTAL = "portal", "Portal"
        EMAIL = "email", "Email"
        API = "api", "API"
        PHONE = "phone", "Phone"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="comments")
    body = models.TextField()
    is_public = models.BooleanField(default=False)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="case_comments",
    )
    author_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="case_comments"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.DESK)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="comment_case_idx")]

    def __str__(self) -> str:
        kind = "reply" if self.is_public else "note"
        return f"{kind} on {self.case_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def author_name(self) -> str:
        if self.author_user_id:
            return str(self.author_user)
        if self.author_contact_id:
            return str(self.author_contact)
        return "System"

    @property
    def is_from_agent(self) -> bool:
        return self.author_user_id is not None and self.author_contact_id is None


def attachment_upload_to(instance: Attachment, filename: str) -> str:
    # Store under the content hash, never under the client's name.
    return f"attachments/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(
        CaseComment, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_upload_to, max_length=255)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=100, help_text="Sniffed from the bytes.")
    is_public = models.BooleanField(
        default=True, help_text="Visible to the customer (false for files on internal notes)."
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="attachment_case_idx")]

    def __str__(self) -> str:
        return self.original_name


class CaseEvent(models.Model):
    """One row of a case's history, written by the service that made the change."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        FIELD_CHANGED = "field_changed", "Field changed"
        STATUS_CHANGED = "status_changed", "Status changed"
        REOPENED = "reopened", "Reopened"
        ASSIGNED = "assigned", "Assigned"
        COMMENT_ADDED = "comment_added", "Comment added"
        ATTACHMENT_ADDED = "attachment_added", "Attachment added"
        ACTIVITY_CREATED = "activity_created", "Activity created"
        ACTIVITY_COMPLETED = "activity_completed", "Activity completed"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    field = models.CharField(max_length=50, blank=True)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="event_case_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.field} on case {self.case_id}"


class Activity(models.Model):
    """Work planned on a case: a follow-up, call, meeting or task (calendar sync uses it)."""

    class Kind(models.TextChoices):
        FOLLOW_UP = "follow_up", "Follow-up"
        CALL = "call", "Call"
        MEETING = "meeting", "Meeting"
        TASK = "task", "Task"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.FOLLOW_UP)
    subject = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activities",
        limit_choices_to={"is_staff": True},
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["case", "created_at"], name="activity_case_idx"),
            models.Index(fields=["owner", "done_at", "due_at"], name="activity_owner_open_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True)
                | models.Q(starts_at__isnull=True)
                | models.Q(ends_at__gte=models.F("starts_at")),
                name="activity_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def when(self):
        return self.starts_at or self.due_at


class CaseSatisfaction(models.Model):
    """The customer's 1 to 5 rating of a resolved case; one per case."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="satisfaction")
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=1, rating__lte=5),
                name="case_satisfaction_rating_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 for case {self.case_id}"


from cases.intake.models import ImapMailbox, InboundEmail, QueueIntakeSettings  # noqa: E402, F401
