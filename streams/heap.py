"""Python's cyclic garbage collector, kept off the hot path of the worker and the sequencer.

A full (generation 2) collection walks every container object the process holds and stops every
thread while it does. The engine's state is mostly such objects and grows with the market, so
with Python's defaults a worker at ~400k objects stopped for 0.3-0.5 s every few seconds of
load, and those pauses were the benches' p99 (docs/stream.md, "Garbage collection").

:class:`HeapKeeper` moves what has survived into the permanent generation (``gc.freeze()``, a
list splice, no walk) once per interval, so each collection looks only at what was allocated
since. Reference counting still frees frozen objects that nothing refers to; what a freeze
costs is that a reference *cycle* already frozen when it became garbage is never reclaimed.
:meth:`HeapKeeper.release` counts those at exit, and the worker logs the count.

:class:`GcPauses` times every collection into a histogram, by generation.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram

_PAUSE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class HeapKeeper:
    """Freezes the surviving heap every ``freeze_interval_s`` (0: Python's collector as is)."""

    def __init__(self, freeze_interval_s: float) -> None:
        if freeze_interval_s < 0:
            raise ValueError(f"freeze_interval_s must be >= 0, not {freeze_interval_s}")
        self.freeze_interval_s = freeze_interval_s
        self._next_s = 0.0
        self.freezes = 0

    @property
    def on(self) -> bool:
        return self.freeze_interval_s > 0

    def settle(self) -> None:
        """After start-up (models loaded, state restored): one full collection, then freeze."""
        if self.on:
            gc.collect()
            self._freeze(time.monotonic())

    def tick(self, now_s: float) -> bool:
        """Freeze if the interval has passed since the last freeze (monotonic seconds)."""
        if self.on and now_s >= self._next_s:
            self._freeze(now_s)
            return True
        return False

    def _freeze(self, now_s: float) -> None:
        gc.freeze()
        self.freezes += 1
        self._next_s = now_s + self.freeze_interval_s

    @staticmethod
    def frozen() -> int:
        return gc.get_freeze_count()

    def release(self) -> int:
        """Unfreeze and collect everything: the unreachable objects found, which include the
        cycles the freezes kept alive (a full pause: call it when the process is done)."""
        if not self.on:
            return 0
        gc.unfreeze()
        return gc.collect()


def declare_gc_metrics(registry: CollectorRegistry, prefix: str) -> Histogram:
    """``{prefix}_gc_pause_seconds{generation}`` (returned, for :class:`GcPauses`) and the gauge
    ``{prefix}_gc_frozen_objects``, read at scrape time."""
    frozen = Gauge(f"{prefix}_gc_frozen_objects",
                   "Objects in the permanent generation (moved there by gc.freeze)",
                   registry=registry)  # fmt: skip
    frozen.set_function(gc.get_freeze_count)
    return Histogram(f"{prefix}_gc_pause_seconds",
                     "Wall time of one cyclic garbage collection (every thread waits for it)",
                     ["generation"], buckets=_PAUSE_BUCKETS, registry=registry)  # fmt: skip


class GcPauses:
    """Times every collection into ``pauses`` (by generation) while open. The callback is
    process-wide, so ``close`` removes it (several workers may share a test process)."""

    def __init__(self, pauses: Histogram) -> None:
        self._by_generation = [pauses.labels(str(g)) for g in range(3)]
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._by_generation[info["generation"]].observe(time.perf_counter() - self._started)

    def close(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
