"""``alphastream bench state``: the engine on the memory vs the RocksDB backend.

Measures, over the same events: engine events/s on each backend (RocksDB committed every
``commit_every`` events, as checkpoints would), the commit cost (drain in the event loop + batch
write, per MB of changed state), and the restore cost of the same final state from the local
RocksDB copy vs from a Kafka checkpoint payload (decode + load; the topic read is not included),
and the event-loop stall of a delta vs a full Kafka checkpoint on the memory backend, serialized
in the loop and in a forked child.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from streams.checkpoints.codec import decode_snapshot, encode_snapshot
from streams.checkpoints.forked import detach_changes, serialize_in_child
from streams.checkpoints.local import LocalState
from streams.events import InputEvent
from streams.features.engine import FeatureEngine
from streams.features.rocks import RocksState
from streams.features.state import EngineState


@dataclass(frozen=True, slots=True)
class StateBench:
    events: int
    memory_events_per_s: float
    rocks_events_per_s: float  # commits included
    rocks_engine_events_per_s: float  # commits excluded
    commits: int
    commit_mb: float  # changed state written, all commits
    commit_ms: float  # drain + write, all commits
    drain_ms: float  # the part that stalls the event loop
    state_mb: float  # serialized size of the final state
    evicting: bool
    local_restore_s: float
    kafka_restore_s: float  # decode + load of the checkpoint payload
    delta_ms: float  # memory backend, per checkpoint: drain_changes (a delta Kafka checkpoint)
    delta_mb: float
    full_ms: float  # memory backend, per checkpoint: snapshot (a full Kafka checkpoint)
    full_mb: float
    # the same checkpoints serialized in a forked child: what the event loop still pays
    forked_delta_ms: float  # taking the changed keys out + the fork
    forked_full_ms: float  # the fork


@dataclass(slots=True)
class _Stalls:
    """Per kind of checkpoint: event-loop seconds, MB and how many were taken."""

    seconds: dict[str, float] = field(default_factory=dict)
    mb: dict[str, float] = field(default_factory=dict)
    taken: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, seconds: float, mb: float = 0.0) -> None:
        self.seconds[kind] = self.seconds.get(kind, 0.0) + seconds
        self.mb[kind] = self.mb.get(kind, 0.0) + mb
        self.taken[kind] = self.taken.get(kind, 0) + 1

    def ms(self, kind: str) -> float:
        return 1000.0 * self.seconds.get(kind, 0.0) / max(1, self.taken.get(kind, 0))

    def mean_mb(self, kind: str) -> float:
        return self.mb.get(kind, 0.0) / max(1, self.taken.get(kind, 0))


def _checkpoint_stalls(events: list[InputEvent], every: int) -> _Stalls:
    """Event-loop time per checkpoint every ``every`` events on the memory backend: a delta
    (drain_changes) and a full one (snapshot) serialized in the loop, and both serialized in a
    forked child (the loop pays for the fork, and for a delta taking the changed keys out).
    Deltas alternate between the two ways, so each covers the same length of market."""
    engine = FeatureEngine()
    engine.state.forget_changes()
    stalls = _Stalls()
    for k, event in enumerate(events):
        engine.process(event)
        if k % every != every - 1:
            continue
        t = time.perf_counter()
        snap = engine.state.snapshot()
        stalls.add("full", time.perf_counter() - t, _mb(snap))
        t = time.perf_counter()
        child = serialize_in_child(engine.state, None)
        stalls.add("forked_full", time.perf_counter() - t)
        child.result()
        t = time.perf_counter()
        if stalls.taken.get("delta", 0) <= stalls.taken.get("forked_delta", 0):
            changes = engine.state.drain_changes()
            stalls.add(
                "delta", time.perf_counter() - t, _mb({n: p for n, (p, _) in changes.items()})
            )
        else:
            child = serialize_in_child(engine.state, detach_changes(engine.state))
            stalls.add("forked_delta", time.perf_counter() - t)
            child.result()
    return stalls


def _mb(values: dict[str, dict[str, bytes]]) -> float:
    return sum(len(k) + len(v) for store in values.values() for k, v in store.items()) / 1e6


def _timed_memory(events: list[InputEvent]) -> tuple[FeatureEngine, float]:
    engine = FeatureEngine()
    t = time.perf_counter()
    for event in events:
        engine.process(event)
    return engine, time.perf_counter() - t


def run_state_bench(
    events: list[InputEvent], commit_every: int = 20_000, cache_entries: int = 500_000
) -> StateBench:
    memory, memory_s = _timed_memory(events)
    root = Path(tempfile.mkdtemp(prefix="state-bench-"))
    try:
        rocks = RocksState.fresh(root / "db", cache_entries)
        engine = FeatureEngine(state=rocks.state)
        commits, commit_s, drain_s, commit_bytes = 0, 0.0, 0.0, 0
        t = time.perf_counter()
        for k, event in enumerate(events):
            engine.process(event)
            if k % commit_every == commit_every - 1 or k == len(events) - 1:
                c0 = time.perf_counter()
                commit = rocks.begin_commit([(b"#manifest", b"{}")])
                c1 = time.perf_counter()
                rocks.write(commit)
                commits += 1
                drain_s += c1 - c0
                commit_s += time.perf_counter() - c0
                commit_bytes += commit.size
        rocks_s = time.perf_counter() - t
        evicting = any(not s._complete for s in rocks.stores().values())
        snap = memory.state.snapshot()
        state_mb = sum(len(k) + len(v) for st in snap.values() for k, v in st.items()) / 1e6
        rocks.close()
        local = LocalState(root / "db", cache_entries)
        t = time.perf_counter()
        FeatureEngine(state=local.load())
        local_s = time.perf_counter() - t
        local.close()
        blob = encode_snapshot(snap)
        t = time.perf_counter()
        FeatureEngine(state=EngineState.from_snapshot(decode_snapshot(blob)))
        kafka_s = time.perf_counter() - t
    finally:
        shutil.rmtree(root, ignore_errors=True)
    stalls = _checkpoint_stalls(events, commit_every)
    n = len(events)
    return StateBench(
        events=n,
        memory_events_per_s=n / memory_s,
        rocks_events_per_s=n / rocks_s,
        rocks_engine_events_per_s=n / (rocks_s - commit_s),
        commits=commits,
        commit_mb=commit_bytes / 1e6,
        commit_ms=commit_s * 1000,
        drain_ms=drain_s * 1000,
        state_mb=state_mb,
        evicting=evicting,
        local_restore_s=local_s,
        kafka_restore_s=kafka_s,
        delta_ms=stalls.ms("delta"),
        delta_mb=stalls.mean_mb("delta"),
        full_ms=stalls.ms("full"),
        full_mb=stalls.mean_mb("full"),
        forked_delta_ms=stalls.ms("forked_delta"),
        forked_full_ms=stalls.ms("forked_full"),
    )
