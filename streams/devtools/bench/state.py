"""``alphastream bench state``: the engine on the memory vs the RocksDB backend.

Measures, over the same events: engine events/s on each backend (RocksDB committed every
``commit_every`` events, as checkpoints would), the commit cost (drain in the event loop + batch
write, per MB of changed state), and the restore cost of the same final state from the local
RocksDB copy vs from a Kafka checkpoint payload (decode + load; the topic read is not included), and the event-loop stall of a delta vs a full
Kafka checkpoint on the memory backend.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from streams.checkpoints.codec import decode_snapshot, encode_snapshot
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


def _checkpoint_stalls(events: list[InputEvent], every: int) -> tuple[float, float, float, float]:
    """Mean event-loop time and MB per checkpoint of a delta (changes) and a full (snapshot)
    Kafka checkpoint on the memory backend, checkpoints every ``every`` events."""
    engine = FeatureEngine()
    engine.state.forget_changes()
    delta_s = full_s = delta_b = full_b = 0.0
    n = 0
    for k, event in enumerate(events):
        engine.process(event)
        if k % every == every - 1:
            t = time.perf_counter()
            snap = engine.state.snapshot()
            t1 = time.perf_counter()
            changes = engine.state.drain_changes()
            delta_s += time.perf_counter() - t1
            full_s += t1 - t
            full_b += sum(len(k) + len(v) for st in snap.values() for k, v in st.items())
            delta_b += sum(len(k) + len(v) for p, _ in changes.values() for k, v in p.items())
            n += 1
    n = max(n, 1)
    return delta_s * 1000 / n, delta_b / 1e6 / n, full_s * 1000 / n, full_b / 1e6 / n


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
    delta_ms, delta_mb, full_ms, full_mb = _checkpoint_stalls(events, commit_every)
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
        delta_ms=delta_ms,
        delta_mb=delta_mb,
        full_ms=full_ms,
        full_mb=full_mb,
    )
