"""Facts about uploaded bytes: their hash and their real content type."""

import hashlib
from typing import IO

import filetype

# Types a browser may show inline. Anything else is downloaded, never rendered,
# so an uploaded HTML or SVG file cannot run script in our origin.
INLINE_SAFE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_SNIFF_BYTES = 8192


def sniff_content_type(head: bytes) -> str:
    """Return the content type read from the first bytes, never from the client's word."""
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    if not head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the sniff boundary is still text.
        try:
            head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
    return "text/plain"


def digest_and_sniff(stream: IO[bytes]) -> tuple[str, str, int]:
    """Read a file once: its sha256 hex digest, sniffed content type and size in bytes."""
    sha = hashlib.sha256()
    size = 0
    head = b""
    stream.seek(0)
    for chunk in iter(lambda: stream.read(64 * 1024), b""):
        if len(head) < _SNIFF_BYTES:
            head += chunk[: _SNIFF_BYTES - len(head)]
        sha.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return sha.hexdigest(), sniff_content_type(head), size
