"""Attachment downloads for anyone who may see the file (desk and portal alike)."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, HttpRequest, HttpResponse

from cases.selectors import attachment_get_for_user
from lib.files import INLINE_SAFE_TYPES


def attachment_download(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    attachment = attachment_get_for_user(user=request.user, pk=pk)
    inline = attachment.content_type in INLINE_SAFE_TYPES
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not inline,
        filename=attachment.original_name,
        content_type=attachment.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Even an image is shown in a sandbox: no script, no same-origin powers.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
