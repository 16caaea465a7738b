"""Reconnect pacing, a bounded recent-id filter and the silence watchdog: the connector's pure parts.

All three take time as an argument (or from an injected clock), so tests drive them without
sleeping.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Capped exponential backoff with full jitter: attempt ``n`` (0-based) waits a uniform draw
    from ``[0, min(cap_s, base_s * 2**n)]``. Full jitter spreads many clients that lost the same
    endpoint at once instead of having them retry in lockstep."""

    base_s: float = 0.5
    cap_s: float = 30.0
    stable_s: float = 10.0  # a connection that lived this long resets the schedule

    def __post_init__(self) -> None:
        if not (self.base_s > 0 and self.cap_s >= self.base_s and self.stable_s >= 0):
            raise ValueError(f"need 0 < base_s <= cap_s and stable_s >= 0, got {self}")

    def ceiling(self, attempt: int) -> float:
        """The largest delay attempt ``attempt`` may draw."""
        # 2**64 already exceeds any sane cap; clamping the exponent avoids float overflow
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt, 64))


class Backoff:
    """A seeded schedule over one :class:`BackoffPolicy` (same seed, same delays)."""

    def __init__(self, policy: BackoffPolicy, seed: int | None = None) -> None:
        self.policy = policy
        self.attempt = 0
        self._rng = random.Random(seed)

    def next_delay(self) -> float:
        delay = self._rng.uniform(0.0, self.policy.ceiling(self.attempt))
        self.attempt += 1
        return delay

    def connection_ended(self, lived_s: float) -> None:
        """Call when a connection closes: a long enough one starts the schedule over."""
        if lived_s >= self.policy.stable_s:
            self.reset()

    def reset(self) -> None:
        self.attempt = 0


class RecentIds:
    """The last ``capacity`` event ids seen, oldest forgotten first (memory stays bounded).

    A reconnect resends at most a few seconds of frames, so a window of recent ids is enough to
    drop them; an older resend gets through and the engine's own dedup catches it."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


class SilenceWatch:
    """Has the feed been quiet for ``silence_s``? Fed with the time of every frame."""

    def __init__(self, silence_s: float, now: float) -> None:
        if silence_s <= 0:
            raise ValueError(f"silence_s must be > 0, got {silence_s}")
        self.silence_s = silence_s
        self.last_frame = now

    def frame(self, now: float) -> None:
        self.last_frame = now

    def remaining(self, now: float) -> float:
        """Seconds until the feed counts as silent (<= 0: it is silent now)."""
        return self.last_frame + self.silence_s - now
