"""Poll IMAP mailboxes over TLS; new messages go through ``inbound_receive_many``.

Messages are fetched and applied in chunks (one transaction and one set of lookups per
chunk). UIDs are tracked per mailbox (reset when the server's UIDVALIDITY changes), and
each processed message is moved to ``processed_folder`` or flagged \\Seen once its chunk
has committed. Bad mail never stops the poller: it is recorded as failed in the ledger and
the UID advances. Only when a chunk could not even be recorded (database trouble) does the
poll stop, without advancing, so the next poll fetches it again; Message-ID idempotency
makes that safe.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import os
import ssl
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from cases.intake.models import ImapMailbox, InboundEmail
from cases.intake.services import inbound_receive_many

logger = logging.getLogger(__name__)

_TIMEOUT = 30
# A chunk is applied when it holds this many messages or bytes, whichever comes first.
CHUNK_MESSAGES = 100
CHUNK_BYTES = 32 * 1024 * 1024


class ImapError(Exception):
    pass


@dataclass
class PollResult:
    fetched: int = 0
    statuses: list[str] = field(default_factory=list)
    error: str = ""


def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.IMAP_CA_FILE or None)


def connect(mailbox: ImapMailbox) -> imaplib.IMAP4:
    password = mailbox.password or os.environ.get(mailbox.password_env or "", "")
    if not password:
        raise ImapError(
            f"No password for mailbox {mailbox.name} (set it or {mailbox.password_env})."
        )
    if mailbox.security == ImapMailbox.Security.SSL:
        conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            mailbox.host, mailbox.port, ssl_context=_ssl_context(), timeout=_TIMEOUT
        )
    else:
        conn = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=_TIMEOUT)
        conn.starttls(ssl_context=_ssl_context())
    conn.login(mailbox.username, password)
    return conn


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(typ: str, data: list, what: str) -> list:
    if typ != "OK":
        raise ImapError(f"{what} failed: {data!r}")
    return data


def _fetch(conn: imaplib.IMAP4, uid: int) -> bytes | None:
    data = _check(*conn.uid("FETCH", str(uid), "(BODY.PEEK[])"), f"FETCH {uid}")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    return None


def poll_mailbox(*, mailbox: ImapMailbox, batch: int | None = None) -> PollResult:
    batch = batch or settings.IMAP_BATCH_SIZE
    result = PollResult()
    conn = connect(mailbox)
    try:
        _check(*conn.select(_quote(mailbox.folder)), f"SELECT {mailbox.folder}")
        _, values = conn.response("UIDVALIDITY")
        if not values or values[0] is None:
            raise ImapError(f"No UIDVALIDITY for {mailbox.folder}")
        uidvalidity = int(values[0])
        if mailbox.uidvalidity != uidvalidity:
            # A new UIDVALIDITY means old UIDs mean nothing: start over. Message-ID
            # idempotency keeps mail seen before from being applied twice.
            mailbox.uidvalidity, mailbox.last_uid = uidvalidity, 0
            mailbox.save(update_fields=["uidvalidity", "last_uid"])
        found = _check(*conn.uid("SEARCH", None, f"UID {mailbox.last_uid + 1}:*"), "SEARCH")
        # "n:*" always includes the highest UID, even when it is below n: filter.
        uids = sorted(int(u) for u in (found[0] or b"").split() if int(u) > mailbox.last_uid)
        # Capabilities grow after login (MOVE among them); imaplib only kept the first list.
        caps = _check(*conn.capability(), "CAPABILITY")
        can_move = b"MOVE" in (caps[0] or b"").upper().split()
        chunk: list[tuple[int, bytes | None]] = []
        chunk_bytes = 0
        copied = False
        for uid in uids[:batch]:
            raw = _fetch(conn, uid)
            if raw is None:
                logger.warning("Mailbox %s: UID %s vanished", mailbox.name, uid)
            chunk.append((uid, raw))
            chunk_bytes += len(raw or b"")
            if len(chunk) >= CHUNK_MESSAGES or chunk_bytes >= CHUNK_BYTES:
                copied |= _take_chunk(conn, mailbox, chunk, can_move, result)
                chunk, chunk_bytes = [], 0
        if chunk:
            copied |= _take_chunk(conn, mailbox, chunk, can_move, result)
        if copied:
            conn.expunge()
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            conn.logout()
    return result


def _take_chunk(
    conn: imaplib.IMAP4,
    mailbox: ImapMailbox,
    chunk: list[tuple[int, bytes | None]],
    can_move: bool,
    result: PollResult,
) -> bool:
    """Apply one chunk, then mark its messages processed and advance the UID.

    Returns True when messages were copied and flagged deleted (the caller expunges).
    """
    raws = [raw for _, raw in chunk if raw is not None]
    for row in inbound_receive_many(raws, source=InboundEmail.Source.IMAP, mailbox=mailbox):
        result.statuses.append(row.status)
        result.fetched += 1
    copied = False
    for uid, _ in chunk:
        if mailbox.processed_folder:
            if can_move:
                _check(*conn.uid("MOVE", str(uid), _quote(mailbox.processed_folder)), "MOVE")
            else:
                _check(*conn.uid("COPY", str(uid), _quote(mailbox.processed_folder)), "COPY")
                _check(*conn.uid("STORE", str(uid), "+FLAGS", r"(\Deleted)"), "STORE")
                copied = True
        else:
            _check(*conn.uid("STORE", str(uid), "+FLAGS", r"(\Seen)"), "STORE")
    mailbox.last_uid = chunk[-1][0]
    mailbox.save(update_fields=["last_uid"])
    return copied


def poll_and_record(*, mailbox: ImapMailbox) -> PollResult:
    """Poll one mailbox and record the outcome on it; connection errors never raise."""
    try:
        result = poll_mailbox(mailbox=mailbox)
    except (ImapError, imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
        result = PollResult(error=f"{type(exc).__name__}: {exc}"[:2000])
        logger.warning("Mailbox %s: %s", mailbox.name, result.error)
    ImapMailbox.objects.filter(pk=mailbox.pk).update(
        last_polled_at=timezone.now(), last_error=result.error
    )
    return result
