"""The sequencer's k-way merge: many input partitions in, one ``(ts, event_id)`` order out.

Pure: no Kafka and no clock. The caller passes its monotonic time (``arrival_s``, ``now_s``)
and each partition's high-water mark (the broker's end offset, exclusive). A *source* is one
input topic-partition; each holds its records in a FIFO, so within a source the release order
is the offset order whatever the keys are (recovery reads "where a partition stands" off the
last record of it in the log, so this must never break).

Release rule, applied to the next record of the merged order (the smallest key among the
sources' first records, the *head*):

- **late**: its key is below the largest key already released: it goes out at once, in its
  place in the output (the log is the canonical order), counted in ``stats.late``;
- **ready**: every other source either has a record buffered (its head key is then >= this
  one) or is caught up (next offset >= high-water), and the head has waited ``hold_s``;
- **forced**: some buffered record has waited ``max_wait_s``: heads go out in merged order
  until none has, each counted in ``stats.forced``. That bounds every record's wait.

A source with nothing buffered and a known backlog (or no high-water mark yet) *blocks*: only
the forced rule releases past it. That is what makes a restart with a backlog come out in
order: a partition whose next fetch is still on its way is waited for.

A record without a key (an input the sequencer dead-lettered: it still takes its place in its
source's offset order) leaves right after the record before it in its source, or at the next
``release`` when it is the only one there. It never counts as late or forced.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
Key = tuple[int, str]  # (ts ms, event_id): the canonical order


@dataclass(slots=True)
class _Entry(Generic[T]):
    offset: int
    key: Key | None
    arrival_s: float
    seq: int
    item: T


@dataclass(slots=True)
class _Source(Generic[T]):
    name: str
    next_offset: int  # offset after the last record added (where the consumer stands)
    released_next: int  # offset after the last record released (what the marker says)
    highwater: int | None = None
    queue: deque[_Entry[T]] = field(default_factory=deque)

    def blocks(self) -> bool:
        """Nothing buffered and (possibly) more in the broker: the merge must wait for it."""
        if self.queue:
            return False
        return self.highwater is None or self.next_offset < self.highwater


@dataclass
class MergeStats:
    added: int = 0
    released: int = 0
    late: int = 0  # released with a key below one released before
    forced: int = 0  # released because a buffered record waited max_wait_s
    keyless: int = 0  # records without a key (dead-lettered inputs) passed through


class Merge(Generic[T]):
    """Buffer records of many sources; ``release(now_s)`` returns those whose turn has come."""

    def __init__(self, hold_s: float, max_wait_s: float) -> None:
        self.hold_s = hold_s
        self.max_wait_s = max_wait_s
        self.stats = MergeStats()
        self._sources: dict[str, _Source[T]] = {}
        self._heads: list[tuple[Key, str]] = []  # one entry per source whose head has a key
        self._keyless: dict[str, None] = {}  # sources whose head is keyless (insertion order)
        self._arrivals: deque[tuple[float, int]] = deque()  # (arrival, seq) of keyed records
        self._gone: set[int] = set()  # seqs released while not at the front of _arrivals
        self._seq = 0
        self._last_arrival = float("-inf")
        self._max_released: Key | None = None
        self._blocking = 0  # sources for which blocks() is true

    # --- sources ------------------------------------------------------------------------

    def add_source(self, source: str, next_offset: int, highwater: int | None = None) -> None:
        """Track a partition whose next record is at ``next_offset`` (idempotent)."""
        if source in self._sources:
            return
        state: _Source[T] = _Source(source, next_offset, next_offset, highwater)
        self._sources[source] = state
        self._blocking += state.blocks()

    def note_highwater(self, source: str, highwater: int) -> None:
        state = self._sources[source]
        if state.highwater is not None and highwater <= state.highwater:
            return  # marks only grow; an older answer says nothing new
        before = state.blocks()
        state.highwater = highwater
        self._blocking += state.blocks() - before

    def positions(self) -> dict[str, int]:
        """Per source, the offset after the last record released (the market log's marker)."""
        return {name: s.released_next for name, s in self._sources.items()}

    def next_offset(self, source: str) -> int:
        return self._sources[source].next_offset

    def __len__(self) -> int:
        """Records added and not yet released."""
        return self.stats.added - self.stats.released

    # --- input --------------------------------------------------------------------------

    def add(self, source: str, offset: int, key: Key | None, arrival_s: float, item: T) -> None:
        """Buffer one record; offsets of a source must grow (the consumer's order)."""
        state = self._sources[source]
        if offset < state.next_offset:
            raise ValueError(f"{source}: offset {offset} is behind {state.next_offset}")
        arrival = arrival_s if arrival_s >= self._last_arrival else self._last_arrival
        self._last_arrival = arrival  # a clock that stepped back is clamped
        self._blocking -= state.blocks()  # it holds a record now: it blocks nothing
        state.next_offset = offset + 1
        self.stats.added += 1
        self._seq += 1
        first = not state.queue
        state.queue.append(_Entry(offset, key, arrival, self._seq, item))
        if key is not None:
            self._arrivals.append((arrival, self._seq))
        if first and key is None:
            self._keyless[source] = None
        elif first and key is not None:
            heapq.heappush(self._heads, (key, source))

    # --- output -------------------------------------------------------------------------

    def release(self, now_s: float) -> list[T]:
        """Every record whose turn has come, in the output order."""
        out: list[T] = []
        for name in self._keyless:
            self._surface(self._sources[name], out)
        self._keyless.clear()
        while self._heads:
            key, name = self._heads[0]
            state = self._sources[name]
            if self._max_released is not None and key < self._max_released:
                self.stats.late += 1
            elif not self._turn_has_come(state.queue[0], now_s):
                if not self._overdue(now_s):
                    break
                self.stats.forced += 1
            heapq.heappop(self._heads)
            self._pop(state, out)
            if self._max_released is None or key > self._max_released:
                self._max_released = key
            self._surface(state, out)
        return out

    def wake_at(self) -> float | None:
        """When ``release`` may return more without new input or marks (None: not by time)."""
        if self._keyless:
            return float("-inf")
        if not self._heads:
            return None
        if self._max_released is not None and self._heads[0][0] < self._max_released:
            return float("-inf")  # a late head goes at once
        self._drop_gone()
        forced = self._arrivals[0][0] + self.max_wait_s
        if self._blocking:
            return forced
        head = self._sources[self._heads[0][1]].queue[0]
        return min(head.arrival_s + self.hold_s, forced)

    def first_hold_end(self) -> float | None:
        """When the hold of the longest-buffered keyed record is over (None: none buffered).
        Until then the ready rule releases nothing and the late and forced rules read no
        high-water marks, so a caller need not refresh the marks any sooner (the sequencer's
        loop reads them only from then on: a read per partition per step is not free)."""
        self._drop_gone()
        return self._arrivals[0][0] + self.hold_s if self._arrivals else None

    # --- internals ----------------------------------------------------------------------

    def _turn_has_come(self, head: _Entry[T], now_s: float) -> bool:
        return self._blocking == 0 and now_s >= head.arrival_s + self.hold_s

    def _overdue(self, now_s: float) -> bool:
        self._drop_gone()
        return bool(self._arrivals) and now_s >= self._arrivals[0][0] + self.max_wait_s

    def _drop_gone(self) -> None:
        arrivals, gone = self._arrivals, self._gone
        while arrivals and arrivals[0][1] in gone:
            gone.discard(arrivals.popleft()[1])

    def _pop(self, state: _Source[T], out: list[T]) -> None:
        entry = state.queue.popleft()
        state.released_next = entry.offset + 1
        self.stats.released += 1
        if entry.key is not None:
            if self._arrivals and self._arrivals[0][1] == entry.seq:
                self._arrivals.popleft()
            else:
                self._gone.add(entry.seq)
        out.append(entry.item)
        if not state.queue:
            self._blocking += state.blocks()

    def _surface(self, state: _Source[T], out: list[T]) -> None:
        """The source's head changed: pass keyless records through, then offer its new head."""
        while state.queue and state.queue[0].key is None:
            self.stats.keyless += 1
            self._pop(state, out)
        if state.queue:
            head_key = state.queue[0].key
            assert head_key is not None
            heapq.heappush(self._heads, (head_key, state.name))
