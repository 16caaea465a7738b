"""Idempotence on ``event_id``: within a window, the engine applies an event id once.

Real feeds deliver at least once (a reconnect resends frames, an RPC replays a slot, a connector
restarts over a range it already produced), so the same event can reach the worker twice at
different Kafka offsets, where offset bookkeeping cannot tell. The engine remembers each event
id it applied (store ``seen``, value: the ts it was applied at) and drops a second copy before
it touches any state. Because this lives in the engine, the offline replay does exactly the
same. Memory is bounded: the engine's token sweep forgets ids older than
``EngineConfig.dedup_window_ms``, so ``seen`` holds at most the events of one window plus one
sweep interval. A copy that arrives after its id was forgotten is applied as a new event.
"""

from __future__ import annotations

from collections import deque

from streams.features.state import SeenEvent, StateStore


class SeenEvents:
    """The ``seen`` store plus the order to forget it in (oldest first)."""

    __slots__ = ("order", "store")

    def __init__(self, store: StateStore[SeenEvent]) -> None:
        self.store = store
        # ids in applied order; applied ts never decreases (late events are applied at the
        # watermark), so this is also ts order. Rebuilt sorted from the store on restore.
        self.order: deque[str] = deque(k for _, k in sorted((v.ts, k) for k, v in store.items()))

    def remember(self, event_id: str, ts: int) -> None:
        self.store.put(event_id, SeenEvent(ts))
        self.order.append(event_id)

    def forget_before(self, cutoff: int) -> int:
        """Forget every id applied before ``cutoff``; returns how many."""
        order, store = self.order, self.store
        forgotten = 0
        while order:
            seen = store.get(order[0])
            if seen is not None and seen.ts >= cutoff:
                break
            store.delete(order.popleft())
            forgotten += 1
        return forgotten
