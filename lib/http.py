"""Request helpers that must agree everywhere they are used."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address, trusting X-Forwarded-For only as far as declared proxies.

    With ``TRUSTED_PROXY_COUNT = n``, the n-th address from the right of the header is
    the client: each trusted proxy appends the address it saw, so anything further left
    was written by the client and may be forged. With 0 the header is ignored.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < count:
        return remote
    return forwarded[-count]
