"""The inbound email webhook: a raw RFC 822 message, signed with a shared secret.

Headers: ``X-Casedesk-Timestamp`` (Unix seconds) and ``X-Casedesk-Signature``
(hex HMAC-SHA256 of ``<timestamp>.`` followed by the body, keyed with
INBOUND_EMAIL_SECRET). A request outside the timestamp window is refused, so a captured
request cannot be replayed later; within the window, Message-ID idempotency makes a
replay change nothing. Optional ``X-Casedesk-Recipient``: the envelope recipient.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from cases.intake.models import InboundEmail
from cases.intake.services import inbound_receive


def sign(body: bytes, timestamp: int | str, secret: str) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _verify(request: HttpRequest, body: bytes) -> str | None:
    """None if the request is authentic and fresh, else the reason to refuse it."""
    secret = settings.INBOUND_EMAIL_SECRET
    if not secret:
        return "inbound email is not configured"
    timestamp = request.headers.get("X-Casedesk-Timestamp", "")
    signature = request.headers.get("X-Casedesk-Signature", "")
    if not timestamp.isdigit() or not signature:
        return "missing signature"
    if abs(time.time() - int(timestamp)) > settings.INBOUND_EMAIL_MAX_AGE_SECONDS:
        return "timestamp outside the allowed window"
    expected = sign(body, timestamp, secret)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        return "bad signature"
    return None


@csrf_exempt
@require_POST
def inbound_email(request: HttpRequest) -> JsonResponse:
    # Read the stream ourselves: request.body stops at DATA_UPLOAD_MAX_MEMORY_SIZE (5 MB),
    # far below a message with attachments at ATTACHMENT_MAX_BYTES.
    limit = settings.INBOUND_MESSAGE_MAX_BYTES
    body = request.read(limit + 1)
    if len(body) > limit:
        return JsonResponse({"error": f"message over {limit} bytes"}, status=413)
    refusal = _verify(request, body)
    if refusal is not None:
        status = 503 if refusal == "inbound email is not configured" else 403
        return JsonResponse({"error": refusal}, status=status)
    if not body:
        return JsonResponse({"error": "empty body"}, status=400)
    row = inbound_receive(
        raw=body,
        source=InboundEmail.Source.HTTP,
        recipient=request.headers.get("X-Casedesk-Recipient", ""),
    )
    # Failed and ignored mail is accepted too (202): it is kept in the ledger; a 5xx would
    # only make the provider resend a message we already hold.
    return JsonResponse(
        {
            "id": row.pk,
            "status": row.status,
            "reason": row.reason,
            "case": row.case.number if row.case_id else None,
        },
        status=202,
    )
