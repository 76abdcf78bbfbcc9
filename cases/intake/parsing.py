"""Turn raw RFC 822 bytes into the plain facts intake needs, with the standard library only.

Text is preferred over HTML (HTML is reduced to text, scripts and styles dropped); every
charset the message declares is honoured, with a replacement fallback so a lying header
cannot stop the message; quoted history is trimmed with email-reply-parser.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from email_reply_parser import EmailReplyParser

_MSGID_RE = re.compile(r"<[^<>\s]+>")
_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "hr",
}
_SKIP_TAGS = {"script", "style", "head", "title"}


class MessageParseError(Exception):
    pass


@dataclass
class ParsedAttachment:
    name: str
    content: bytes
    content_type: str


@dataclass
class ParsedEmail:
    message_id: str
    sender: str
    sender_name: str
    subject: str
    recipients: list[str]
    in_reply_to: list[str]
    references: list[str]
    body: str
    full_text: str
    attachments: list[ParsedAttachment] = field(default_factory=list)
    auto_reason: str = ""


def normalise_msgid(value: str) -> str:
    """``<id@host>`` without folding whitespace, lower-cased host part left alone."""
    value = "".join(value.split())
    match = _MSGID_RE.search(value)
    if match:
        return match.group(0)
    return f"<{value.strip('<>')}>" if value else ""


def msgids(value: str | None) -> list[str]:
    if not value:
        return []
    return _MSGID_RE.findall("".join(str(value).split()))


def fallback_message_id(raw: bytes) -> str:
    return f"<sha256.{hashlib.sha256(raw).hexdigest()}@no-message-id>"


class _TextFromHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(self._skip - 1, 0)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _header(msg: Message, name: str) -> str:
    """A header as text: RFC 2047 words decoded, folding undone, never raising."""
    value = msg.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except Exception:  # a malformed encoded word: keep what was there
        text = str(value)
    return " ".join(text.split())


def _decode_part(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return payload.decode("utf-8", errors="replace")


def auto_submitted_reason(msg: Message, sender: str) -> str:
    """Why this message is machine-made (auto-reply, bounce, bulk), or '' for a person."""
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if _header(msg, name):
            return f"{name} header"
    precedence = _header(msg, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    local = sender.split("@", 1)[0].lower()
    if local in ("mailer-daemon", "postmaster") or local.startswith("mailer-daemon"):
        return f"from {local}"
    if msg.get_content_type() == "multipart/report":
        return "delivery report"
    if _header(msg, "Return-Path") == "<>":
        return "null return path (bounce)"
    return ""


def parse(raw: bytes) -> ParsedEmail:
    try:
        # compat32 is several times faster than policy.default on headers; _header decodes.
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # the parser is lenient; this is for truly hopeless input
        raise MessageParseError(f"Unreadable message: {exc}") from exc
    if not raw.strip() or not msg.keys():
        raise MessageParseError("No headers: not an RFC 822 message.")
    sender_name, sender = parseaddr(_header(msg, "From"))
    sender = sender.strip().lower()
    if "@" not in sender:
        raise MessageParseError(f"No usable From address ({_header(msg, 'From')!r}).")
    recipients = [
        addr.strip().lower()
        for _, addr in getaddresses(
            [_header(msg, h) for h in ("To", "Cc", "Delivered-To", "X-Original-To")]
        )
        if addr and "@" in addr
    ]
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[ParsedAttachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        ctype = part.get_content_type()
        filename = part.get_filename()
        if filename:
            filename = " ".join(str(make_header(decode_header(filename))).split())
        if disposition == "attachment" or filename or not ctype.startswith("text/"):
            if ctype.startswith("multipart/") or ctype == "message/rfc822":
                continue
            content = part.get_payload(decode=True) or b""
            attachments.append(
                ParsedAttachment(
                    name=filename or f"part.{ctype.split('/')[-1]}",
                    content=content,
                    content_type=ctype,
                )
            )
        elif ctype == "text/plain":
            text_parts.append(_decode_part(part))
        elif ctype == "text/html":
            html_parts.append(_decode_part(part))
    if text_parts:
        full_text = "\n".join(text_parts)
    elif html_parts:
        full_text = html_to_text("\n".join(html_parts))
    else:
        full_text = ""
    full_text = full_text.replace("\r\n", "\n").strip()
    body = EmailReplyParser.parse_reply(full_text).strip() if full_text else ""
    message_id = normalise_msgid(_header(msg, "Message-ID")) or fallback_message_id(raw)
    return ParsedEmail(
        message_id=message_id[:255],
        sender=sender,
        sender_name=sender_name.strip(),
        subject=_header(msg, "Subject")[:255],
        recipients=recipients,
        in_reply_to=msgids(_header(msg, "In-Reply-To")),
        references=msgids(_header(msg, "References")),
        body=body or full_text,
        full_text=full_text,
        attachments=attachments,
        auto_reason=auto_submitted_reason(msg, sender),
    )


@dataclass(frozen=True)
class Peek:
    message_id: str
    sender: str
    subject: str


def peek(raw: bytes) -> Peek:
    """Message-ID, sender and subject from the headers alone (cheap, never raises)."""
    try:
        msg = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        message_id = normalise_msgid(str(msg.get("Message-ID", "") or ""))
        sender = parseaddr(_header(msg, "From"))[1].strip().lower()
        subject = _header(msg, "Subject")
    except Exception:
        return Peek(fallback_message_id(raw), "", "")
    return Peek((message_id or fallback_message_id(raw))[:255], sender[:254], subject[:255])
