"""``alphastream bench engine``: feature-engine throughput, a profile and memory per entity."""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import sys
import time
import tracemalloc
from collections import deque
from dataclasses import dataclass
from typing import Any

from streams.events import InputEvent, decode_input, encode
from streams.features.engine import EngineConfig, FeatureEngine


@dataclass(slots=True)
class EngineBench:
    events: int
    signals: int
    outcomes: int
    engine_events_per_s: float
    with_parse_events_per_s: float
    profile_top: str
    tokens: int
    wallets: int
    bytes_per_token: float
    bytes_per_wallet: float
    traced_state_mb: float
    seen_ids: int = 0  # event ids remembered for dedup at the end
    bytes_per_seen_id: float = 0.0


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes held by ``obj`` and everything it references (shared objects counted once)."""
    seen = set() if seen is None else seen
    stack = [obj]
    total = 0
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        total += sys.getsizeof(cur)
        if isinstance(cur, dict):
            stack.extend(cur.keys())
            stack.extend(cur.values())
        elif isinstance(cur, list | tuple | deque | set):
            stack.extend(cur)
        elif hasattr(cur, "__slots__"):
            stack.extend(getattr(cur, s) for s in cur.__slots__ if hasattr(cur, s))
    return total


def run_engine(events: list[InputEvent], config: EngineConfig) -> tuple[FeatureEngine, int, int]:
    engine = FeatureEngine(config)
    signals = outcomes = 0
    for event in events:
        out = engine.process(event)
        signals += len(out.signals)
        outcomes += len(out.outcomes)
    return engine, signals, outcomes


def bench_engine(payloads: list[bytes], config: EngineConfig | None = None) -> EngineBench:
    """Engine alone, parse + engine, a cProfile top-10, and memory per tracked token / wallet."""
    cfg = config or EngineConfig()
    t = time.perf_counter()
    events = sorted((decode_input(p) for p in payloads), key=lambda e: (e.ts, e.event_id))
    parse_s = time.perf_counter() - t
    t = time.perf_counter()
    _, signals, outcomes = run_engine(events, cfg)
    engine_s = time.perf_counter() - t
    profiler = cProfile.Profile()
    profiler.enable()
    run_engine(events, cfg)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(10)
    gc.collect()
    tracemalloc.start()
    engine, _, _ = run_engine(events, cfg)
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    state = engine.state
    seen: set[int] = set()
    token_bytes = deep_size(dict(state.tokens.items()), seen) + deep_size(
        dict(state.pending.items()), seen
    )
    wallet_bytes = deep_size(dict(state.wallets.items()), seen) + deep_size(
        dict(state.cooc.items()), seen
    )
    seen_bytes = deep_size(dict(state.seen.items()), seen) + deep_size(engine._seen.order, seen)
    n = len(events)
    return EngineBench(
        events=n,
        signals=signals,
        outcomes=outcomes,
        engine_events_per_s=n / engine_s if engine_s else 0.0,
        with_parse_events_per_s=n / (engine_s + parse_s) if engine_s + parse_s else 0.0,
        profile_top=text.getvalue(),
        tokens=len(state.tokens),
        wallets=len(state.wallets),
        bytes_per_token=token_bytes / max(len(state.tokens), 1),
        bytes_per_wallet=wallet_bytes / max(len(state.wallets), 1),
        traced_state_mb=traced / 1e6,
        seen_ids=len(state.seen),
        bytes_per_seen_id=seen_bytes / max(len(state.seen), 1),
    )


def simulated_payloads(hours: float, launch_rate: float, seed: int) -> list[bytes]:
    from streams.sim import SimConfig
    from streams.sim import simulate as run_market

    config = SimConfig(seed=seed, hours=hours, launch_rate_per_day=launch_rate)
    return [encode(event) for event in run_market(config)]
