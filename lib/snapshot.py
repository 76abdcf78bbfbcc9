"""Read slowly changing configuration once per unit of work.

Flows and access profiles live in the database and the shared cache, and every case
change asks for them; checking their shared version costs a Redis round trip each time.
Inside ``with config_snapshot():`` (a batch of inbound mail) a value read through
``snapshot_value`` is loaded once and reused until the block ends; outside a snapshot
every call loads, exactly as before. A change made in this process (``forget``) clears
the snapshot at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_current: ContextVar[dict[Hashable, object] | None] = ContextVar("config_snapshot", default=None)


@contextmanager
def config_snapshot() -> Iterator[None]:
    if _current.get() is not None:  # nested: the outer snapshot serves
        yield
        return
    token = _current.set({})
    try:
        yield
    finally:
        _current.reset(token)


def snapshot_value(key: Hashable, load: Callable[[], T]) -> T:
    memo = _current.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]  # type: ignore[return-value]


def forget() -> None:
    """Drop what the current snapshot holds (this process changed the configuration)."""
    memo = _current.get()
    if memo is not None:
        memo.clear()
