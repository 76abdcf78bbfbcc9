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
_ROOT_RE = re.compile(r"^<?case\.(?P<number>\d{1,12})\.(?P<sig>[0-9a-f]+)@[^>]+>?$", re.IGNORECASE)


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


def thread_root_id(number: str) -> str:
    """The Message-ID all mail of a case refers to (In-Reply-To/References), signed."""
    return f"<case.{number}.{_sign(number, _ROOT_SALT)}@{settings.REPLY_DOMAIN}>"


def verify_thread_root(msg_id: str) -> str | None:
    """The case number of a signed thread root Message-ID, or None."""
    match = _ROOT_RE.match(msg_id.strip())
    if match is None:
        return None
    number, sig = match["number"], match["sig"]
    if not constant_time_compare(sig.lower(), _sign(number, _ROOT_SALT)):
        return None
    return number
