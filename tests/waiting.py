"""Waiting in tests: poll a signal (a metric, a flag, a file, a query) until it holds; never sleep
a fixed time.

- ``wait_until(predicate, *, timeout_s, what)``: the first truthy value of ``predicate()``. At the
  timeout a ``WaitTimeout`` (an ``AssertionError``) naming ``what`` and the last value seen.
- ``poll_until(predicate, *, timeout_s, until=bool)``: the same poll of a reading (a count, the
  gauges) until ``until(reading)`` holds; at the timeout it returns the last reading, for a caller
  whose own assertion or error says more.
- ``wait_until_async(...)``: ``wait_until`` inside a coroutine; it yields to the event loop between
  polls, so the code it waits on can run.

The deadline is monotonic. ``predicate`` runs at least once, and once more at the deadline (the
pause before it is cut short to end there). What it raises propagates: a predicate can fail fast
(e.g. on a process that died); it catches whatever only means "not yet".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL_S = 0.1  # between two polls, unless the caller says otherwise
_SHOWN_CHARS = 500  # of the last value's repr in a timeout message


class WaitTimeout(AssertionError):
    """A condition did not hold within its timeout."""

    def __init__(self, what: str, timeout_s: float, last: object) -> None:
        shown = repr(last)
        if len(shown) > _SHOWN_CHARS:
            shown = shown[:_SHOWN_CHARS] + "..."
        super().__init__(f"timed out after {timeout_s:g}s waiting for {what} (last value: {shown})")
        self.what = what
        self.timeout_s = timeout_s
        self.last = last


def poll_until(
    predicate: Callable[[], T],
    *,
    timeout_s: float,
    until: Callable[[T], object] = bool,
    interval_s: float = INTERVAL_S,
) -> T:
    """The first value of ``predicate()`` that ``until`` accepts (by default: a truthy one), or
    the last value read at the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        remaining = deadline - time.monotonic()
        if until(value) or remaining <= 0:
            return value
        time.sleep(min(interval_s, remaining))


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = INTERVAL_S,
) -> T:
    """The first truthy value of ``predicate()``; ``WaitTimeout`` if none within ``timeout_s``."""
    value = poll_until(predicate, timeout_s=timeout_s, interval_s=interval_s)
    if not value:
        raise WaitTimeout(what, timeout_s, value)
    return value


async def wait_until_async(
    predicate: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = INTERVAL_S,
) -> T:
    """``wait_until`` on the running event loop's clock, sleeping with ``asyncio.sleep``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = predicate()
        remaining = deadline - loop.time()
        if value:
            return value
        if remaining <= 0:
            raise WaitTimeout(what, timeout_s, value)
        await asyncio.sleep(min(interval_s, remaining))
