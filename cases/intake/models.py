"""Email-to-Case ledger: every inbound message, what became of it, and IMAP mailboxes."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class InboundEmail(models.Model):
    """One received message. Nothing is lost: bad mail is kept as failed with its reason."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"
        IGNORED = "ignored", "Ignored"

    class Source(models.TextChoices):
        HTTP = "http", "HTTP endpoint"
        IMAP = "imap", "IMAP mailbox"
        COMMAND = "command", "Command line"

    message_id = models.CharField(
        max_length=255, unique=True, help_text="Normalised Message-ID (or a hash of the bytes)."
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    mailbox = models.ForeignKey(
        "cases.ImapMailbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient = models.CharField(
        max_length=254, blank=True, help_text="Envelope recipient, if the source knows it."
    )
    sender = models.CharField(max_length=254, blank=True, db_index=True)
    subject = models.CharField(max_length=255, blank=True)
    raw = models.BinaryField(help_text="The message as received, capped in size.")
    raw_size = models.PositiveBigIntegerField(default=0)
    raw_truncated = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    reason = models.TextField(blank=True)
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.ForeignKey(
        "cases.CaseComment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_case = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "inbound email"
        indexes = [
            models.Index(fields=["sender", "created_at"], name="inbound_sender_created_idx"),
            models.Index(fields=["status", "created_at"], name="inbound_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sender}: {self.subject} ({self.status})"


class QueueIntakeSettings(models.Model):
    """Per-queue choices for mail from unknown senders."""

    queue = models.OneToOneField(
        "cases.Queue", on_delete=models.CASCADE, related_name="intake_settings"
    )
    reject_unknown_senders = models.BooleanField(
        default=False,
        help_text="Ignore mail from addresses that are not a contact (instead of creating one).",
    )

    class Meta:
        verbose_name = "queue intake settings"
        verbose_name_plural = "queue intake settings"

    def __str__(self) -> str:
        return f"intake settings of queue {self.queue_id}"


class ImapMailbox(models.Model):
    """A mailbox polled for new mail; its messages become cases of ``queue``."""

    class Security(models.TextChoices):
        SSL = "ssl", "TLS (IMAPS, port 993)"
        STARTTLS = "starttls", "STARTTLS (port 143)"

    name = models.CharField(max_length=100, unique=True)
    queue = models.ForeignKey("cases.Queue", on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField(default=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    security = models.CharField(max_length=10, choices=Security.choices, default=Security.SSL)
    username = models.CharField(max_length=255)
    password = models.CharField(
        max_length=255, blank=True, help_text="Leave empty to read it from password_env."
    )
    password_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable with the password."
    )
    folder = models.CharField(max_length=255, default="INBOX")
    processed_folder = models.CharField(
        max_length=255, blank=True, help_text="Move processed mail here; empty: flag it as seen."
    )
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "IMAP mailbox"

    def __str__(self) -> str:
        return self.name
