"""Event-time re-sequencer: merge many input partitions into canonical ``(ts, event_id)`` order.

Pure (no Kafka, no clock): the caller passes wall time ``now`` (seconds, monotonic) and the
partitions' high-water marks. Each *source* is one topic-partition; within a source events are
assumed to arrive in key order (the producer writes them that way), across sources in any order.

Watermark rule. An event may be released once no source can still deliver a smaller key. A
source *holds back* the watermark while

* it has a known backlog (``next_offset < highwater``): more of it is already in the broker, or
* its high-water mark is still unknown and it was registered less than ``idle_s`` ago, or
* it delivered an event less than ``idle_s`` ago (wall time) — a short grace so that a live,
  busy partition whose next fetch is in flight is waited for — unless the marks were confirmed
  by a fresh question (see below): then a caught-up source holds nothing back, and when *every*
  source is caught up everything buffered (that arrived before the question) goes at once.

The watermark is the minimum over holding sources of the key of the last event each delivered;
everything buffered with a key <= the watermark is released in key order. A source that is
caught up and quiet does not hold anything back, so one idle partition cannot stall the others;
the price is that an event arriving later on such a source with an older key is *late*: it is
released at once (counted in ``stats.late``) rather than dropped.

High-water marks must be fresher than the items they release. A mark cached from the last fetch
response can be older than an item another consumer just delivered, so a partition that merely
*looks* caught up may already hold an older event in the broker. The caller therefore asks the
broker for the marks after taking ``push_mark()`` and releases with ``cutoff`` set to it: only
items that arrived before the question are released (later ones wait for the next question),
and the ``idle_s`` grace is dropped — a source that was caught up at the question cannot hold
an older event unless it was appended after the question. With ``settle_s`` the push mark only
counts items that arrived ``settle_s`` before the question, so an older event a producer appended
up to ``settle_s`` after a newer one on another partition is still seen in time (the documented
staleness bound).

The buffer is bounded: beyond ``max_buffer`` items the smallest keys are released early
(counted in ``stats.forced``). Duplicate deliveries (offset below the source's next offset, e.g.
a re-seek after a rebalance) are refused so the caller can ack them without reprocessing.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
Key = tuple[int, str]  # (ts ms, event_id): canonical engine order


@dataclass
class SourceState:
    """What the re-sequencer knows about one input partition."""

    next_offset: int | None = None  # offset after the last delivered event
    highwater: int | None = None  # broker end offset (exclusive), when known
    latest_key: Key | None = None  # key of the last delivered event
    registered: float = 0.0  # wall time the source was added
    last_seen: float | None = None  # wall time of the last delivery

    def caught_up(self) -> bool:
        """Delivered everything the broker had at the last fetch (position == high-water)."""
        return (
            self.highwater is not None
            and self.next_offset is not None
            and self.next_offset >= self.highwater
        )

    def holds_back(self, now: float, idle_s: float, confirmed: bool = False) -> bool:
        """``confirmed``: the high-water mark was asked for after every item about to be
        released arrived, so a caught-up source needs no grace period."""
        if self.highwater is None or self.next_offset is None:
            return now - (self.last_seen or self.registered) < idle_s
        if self.next_offset < self.highwater:
            return True
        return not confirmed and self.last_seen is not None and now - self.last_seen < idle_s


@dataclass
class ResequencerStats:
    pushed: int = 0
    released: int = 0
    duplicates: int = 0
    late: int = 0  # arrived with a key below one already released
    forced: int = 0  # released early because the buffer was full


@dataclass
class Resequencer(Generic[T]):
    """Buffer items from many sources; release them in key order behind a watermark."""

    max_buffer: int = 200_000
    idle_s: float = 0.25
    settle_s: float = 0.0  # > 0: push_mark(now) only counts items that arrived settle_s ago
    marks_exact: bool = True  # False: fresh marks may trail the log end (tansu): keep the grace
    sources: dict[Hashable, SourceState] = field(default_factory=dict)
    stats: ResequencerStats = field(default_factory=ResequencerStats)
    _heap: list[tuple[Key, int, T]] = field(default_factory=list)
    _seq: int = 0  # tie-breaker so items themselves are never compared
    _last_released: Key | None = None
    _arrivals: deque[tuple[float, int]] = field(default_factory=deque)  # (wall time, seq)
    _settled: int = 0  # latest seq that arrived at least settle_s before the last push_mark

    def __len__(self) -> int:
        return len(self._heap)

    def add_source(self, source: Hashable, now: float, next_offset: int | None = None) -> None:
        """Start tracking a partition; ``next_offset`` is where its delivery will start."""
        state = self.sources.get(source)
        if state is None:
            self.sources[source] = SourceState(next_offset=next_offset, registered=now)
        elif next_offset is not None and (
            state.next_offset is None or next_offset > state.next_offset
        ):
            state.next_offset = next_offset

    def note_highwater(self, source: Hashable, highwater: int | None) -> None:
        state = self.sources.get(source)
        if state is not None and highwater is not None and highwater >= 0:
            state.highwater = highwater

    def next_offset(self, source: Hashable) -> int | None:
        state = self.sources.get(source)
        return None if state is None else state.next_offset

    def push(self, source: Hashable, offset: int, key: Key, item: T, now: float) -> bool:
        """Buffer one item; False (nothing buffered) for a duplicate or an unknown source."""
        state = self.sources.get(source)
        if state is None:
            return False
        if state.next_offset is not None and offset < state.next_offset:
            self.stats.duplicates += 1
            return False
        state.next_offset = offset + 1
        state.last_seen = now
        if state.latest_key is None or key > state.latest_key:
            state.latest_key = key
        if self._last_released is not None and key < self._last_released:
            self.stats.late += 1
        self._seq += 1
        if self.settle_s > 0:
            self._arrivals.append((now, self._seq))
        heapq.heappush(self._heap, (key, self._seq, item))
        self.stats.pushed += 1
        return True

    def watermark(self, now: float, confirmed: bool = False) -> Key | None:
        """Largest key safe to release; None when no source holds anything back."""
        states = self.sources.values()
        if confirmed and all(state.caught_up() for state in states):
            return None  # nothing more exists anywhere (as of the question): no reason to wait
        mark: Key | None = None
        for state in states:
            if not state.holds_back(now, self.idle_s, confirmed):
                continue
            if state.latest_key is None:
                return (-1, "")  # holding but nothing seen yet: release nothing
            if mark is None or state.latest_key < mark:
                mark = state.latest_key
        return mark

    @property
    def last_released(self) -> Key | None:
        return self._last_released

    def push_mark(self, now: float | None = None) -> int:
        """Sequence number of the latest push (pass it as ``cutoff`` to ``pop_ready``).

        With ``settle_s`` and ``now``: of the latest push at least ``settle_s`` old, so an item
        is released only after other partitions had ``settle_s`` to show an older event that a
        producer appended slightly out of order (its batching spreads partitions by linger.ms)."""
        if now is None or self.settle_s <= 0:
            return self._seq
        arrivals, horizon = self._arrivals, now - self.settle_s
        while arrivals and arrivals[0][0] <= horizon:
            self._settled = arrivals.popleft()[1]
        return self._settled

    def unsettled(self) -> bool:
        """Buffered items that have not settled yet (the caller should look again soon)."""
        return bool(self._heap) and bool(self._arrivals)

    def pop_ready(self, now: float, cutoff: int | None = None) -> list[T]:
        """Release, in key order, every item at or below the watermark (and any overflow).

        ``cutoff``: release stops at the first item pushed after that ``push_mark()`` (the
        high-water marks the watermark used were asked for before it arrived). Marks asked for
        after the items arrived make the ``idle_s`` grace unnecessary: with a cutoff a caught-up
        source holds nothing back."""
        mark = self.watermark(now, confirmed=cutoff is not None and self.marks_exact)
        if mark is not None and self._last_released is not None and mark < self._last_released:
            mark = self._last_released  # late items go out immediately
        out: list[T] = []
        heap = self._heap
        while heap and (mark is None or heap[0][0] <= mark):
            if cutoff is not None and heap[0][1] > cutoff:
                break
            out.append(self._pop())
        while len(heap) > self.max_buffer:
            out.append(self._pop())
            self.stats.forced += 1
        return out

    def drain(self) -> list[T]:
        """Release everything buffered, in key order (shutdown / tests)."""
        out = []
        while self._heap:
            out.append(self._pop())
        return out

    def _pop(self) -> T:
        key, _, item = heapq.heappop(self._heap)
        if self._last_released is None or key > self._last_released:
            self._last_released = key
        self.stats.released += 1
        return item
