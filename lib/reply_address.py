"""Signed per-case reply addresses and thread ids.

Outbound mail carries ``Reply-To: support+c00001024.<sig>@<REPLY_DOMAIN>``. The signature
is an HMAC of the case number keyed from SECRET_KEY, so a sender who guesses a case number
cannot forge an address (or a thread Message-ID) that threads into that case.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "casedesk.reply-address"
_ROOT_SALT = "casedesk.case-thread-root"
_SIG_LEN = 16
_TAG_RE = re.compile(
    r"\+c(?P<number>\d{1,12})\.(?P<sig>[0-9a-f]{" + str(_SIG_LEN) + r"})@", re.IGNORECASE
)
# Our Message-IDs end in "case.<number>.<sig>@domain": the thread root, or a row's own id.
_ROOT_RE = re.compile(r"(?:^<|\.)case\.(?P<number>\d{1,12})\.(?P<sig>[0-9a-f]+)@", re.IGNORECASE)


def _sign(number: str, salt: str) -> str:
    return salted_hmac(salt, number, algorithm="sha256").hexdigest()[:_SIG_LEN]


def make(number: str) -> str:
    """The reply address of case ``number``."""
    return f"{settings.REPLY_LOCAL_PART}+c{number}.{_sign(number, _SALT)}@{settings.REPLY_DOMAIN}"


def verify(address: str) -> str | None:
    """The case number a reply address stands for, or None if it is not ours or is forged."""
    match = _TAG_RE.search(address.strip().lower())
    if match is None:
        return None
    number, sig = match["number"], match["sig"]
    if not constant_time_compare(sig, _sign(number, _SALT)):
        return None
    return number


def _thread_tag(number: str) -> str:
    return f"case.{number}.{_sign(number, _ROOT_SALT)}@{settings.REPLY_DOMAIN}"


def thread_root_id(number: str) -> str:
    """The Message-ID all mail of a case refers to (In-Reply-To/References), signed."""
    return f"<{_thread_tag(number)}>"


def case_message_id(unique: str, number: str) -> str:
    """A Message-ID for one mail of a case; a reply to it threads back into the case."""
    return f"<{unique}.{_thread_tag(number)}>"


def verify_thread_id(msg_id: str) -> str | None:
    """The case number carried by one of our signed Message-IDs, or None."""
    match = _ROOT_RE.search(msg_id.strip())
    if match is None:
        return None
    number, sig = match["number"], match["sig"]
    if not constant_time_compare(sig.lower(), _sign(number, _ROOT_SALT)):
        return None
    return number
