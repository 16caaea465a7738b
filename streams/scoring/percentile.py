"""Rolling percentile rank of a score among the scores of the last hour of EVENT time."""

from __future__ import annotations

import heapq

from sortedcontainers import SortedList


class RollingPercentile:
    """Mid-rank percentile of each new score within a sliding event-time window.

    The window ends at the highest event time seen so far (``high_water``) and holds the earlier
    scores with ``ts > high_water - window_ms``. For a new score ``s`` among ``n`` window scores
    with ``less`` below and ``equal`` tied, the rank is ``(less + (equal + 1) / 2) / (n + 1)``:
    in (0, 1), 0.5 for the first score, ties share a rank. Depends only on the input sequence
    (no wall clock). O(log n) per update: a sorted list for ranks, a heap for expiry.
    """

    def __init__(self, window_ms: int = 3_600_000) -> None:
        if window_ms <= 0:
            raise ValueError("window_ms must be positive")
        self.window_ms = window_ms
        self._sorted: SortedList = SortedList()
        self._by_time: list[tuple[int, int, float]] = []
        self._seq = 0
        self._high_water: int | None = None

    def __len__(self) -> int:
        return len(self._sorted)

    def update(self, ts_ms: int, score: float) -> float:
        """Rank ``score`` against the window, then add it. NaN scores are rejected."""
        if score != score:
            raise ValueError("score is NaN")
        self._advance(ts_ms)
        less = self._sorted.bisect_left(score)
        equal = self._sorted.bisect_right(score) - less
        rank = (less + (equal + 1) / 2) / (len(self._sorted) + 1)
        if self._high_water is not None and ts_ms > self._high_water - self.window_ms:
            self._sorted.add(score)
            heapq.heappush(self._by_time, (ts_ms, self._seq, score))
            self._seq += 1
        return rank

    def _advance(self, ts_ms: int) -> None:
        self._high_water = ts_ms if self._high_water is None else max(self._high_water, ts_ms)
        horizon = self._high_water - self.window_ms
        while self._by_time and self._by_time[0][0] <= horizon:
            _, _, expired = heapq.heappop(self._by_time)
            self._sorted.remove(expired)
