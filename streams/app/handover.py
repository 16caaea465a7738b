"""What a worker keeps of the shards it does not own, so it can take one over without a gap.

Every worker applies the whole market log, so it computes every row (buy and genesis feature
vectors) and every outcome, but publishes only its own shards'. The rest wait here, unscored,
for ``window_s`` (wall time) and at most ``max_rows``: long enough for the group to notice a dead
owner and hand its shards out. Taking a shard over publishes what it holds after the shard's
published progress (the newest output of that shard already on the broker).

Outputs are ordered by a *mark*: (log offset, ordinal among that log record's outputs of the same
stream). Every worker derives the same marks from the same log, so "published through mark m" means
the same outputs on every worker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Mark = tuple[int, int]
NOTHING: Mark = (-1, -1)
ROWS = "rows"  # buy and genesis rows -> scores + signals
OUTCOMES = "outcomes"
STREAMS = (ROWS, OUTCOMES)


def encode_mark(mark: Mark) -> bytes:
    return f"{mark[0]}.{mark[1]}".encode()


def decode_mark(raw: bytes | None) -> Mark:
    if not raw:
        return NOTHING
    offset, ordinal = raw.decode().split(".", 1)
    return int(offset), int(ordinal)


@dataclass(frozen=True, slots=True)
class ShardProgress:
    """The newest mark of each output stream of one shard already on the broker."""

    rows: Mark = NOTHING
    outcomes: Mark = NOTHING

    def of(self, stream: str) -> Mark:
        return self.rows if stream == ROWS else self.outcomes


@dataclass(slots=True)
class Held:
    shard: int
    stream: str
    mark: Mark
    item: Any  # a feature row (ROWS) or an Outcome (OUTCOMES)
    produced_ms: int | None  # the buy's produce time (latency), None for genesis and outcomes
    arrived_s: float


@dataclass(slots=True)
class Taken:
    held: list[Held]
    gaps: int  # shards whose progress is older than what eviction already dropped


class HandoverBuffer:
    def __init__(self, window_s: float, max_rows: int) -> None:
        self.window_s = window_s
        self.max_rows = max_rows
        self._held: deque[Held] = deque()
        self.evicted = 0
        # per (shard, stream): the newest mark evicted; a takeover older than it has a gap
        self._evicted_through: dict[tuple[int, str], Mark] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, held: Held) -> None:
        self._held.append(held)

    def evict(self, now_s: float) -> int:
        """Drop what is older than the window or over the row bound; returns how many."""
        held, horizon, dropped = self._held, now_s - self.window_s, 0
        while held and (len(held) > self.max_rows or held[0].arrived_s < horizon):
            old = held.popleft()
            key = (old.shard, old.stream)
            if old.mark > self._evicted_through.get(key, NOTHING):
                self._evicted_through[key] = old.mark
            dropped += 1
        self.evicted += dropped
        return dropped

    def take(self, progress: Mapping[int, ShardProgress]) -> Taken:
        """Remove the held outputs of these shards; return those after each shard's progress."""
        out: list[Held] = []
        keep: deque[Held] = deque()
        for held in self._held:
            shard_progress = progress.get(held.shard)
            if shard_progress is None:
                keep.append(held)
            elif held.mark > shard_progress.of(held.stream):
                out.append(held)
        self._held = keep
        gaps = sum(1 for shard, p in progress.items() for s in STREAMS if self._gap(shard, s, p))
        return Taken(out, gaps)

    def _gap(self, shard: int, stream: str, progress: ShardProgress) -> bool:
        return self._evicted_through.get((shard, stream), NOTHING) > progress.of(stream)

    def shards(self) -> Iterable[int]:
        return {h.shard for h in self._held}
