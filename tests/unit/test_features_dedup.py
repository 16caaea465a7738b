"""Idempotence on event_id: a re-delivered event changes no state and makes no signal, in the
stream and the offline replay alike (both run this engine), with memory bounded by a window."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.contracts.events import InputEvent
from streams.contracts.features import MINUTE_MS
from streams.features.engine import EngineConfig, EngineOutput, FeatureEngine
from streams.features.rocks import RocksState
from streams.features.state import EngineState
from streams.testing import Curve, make_buy, make_genesis, random_market

WINDOW_MS = EngineConfig().dedup_window_ms


def _run(events: list[InputEvent], engine: FeatureEngine | None = None) -> EngineOutput:
    engine = engine or FeatureEngine()
    out = EngineOutput()
    for event in events:
        out.extend(engine.process(event))
    out.extend(engine.flush())
    return out


def _comparable(out: EngineOutput) -> tuple[list[Any], list[bytes], list[Any]]:
    meta = [[s.kind, s.event_id, s.ts, s.mint, s.wallet, s.creator, s.price] for s in out.signals]
    # NaN == NaN here: compare the bytes of each feature row
    rows = [np.asarray(s.features, dtype=np.float64).tobytes() for s in out.signals]
    return meta, rows, [dataclasses.asdict(o) for o in out.outcomes]


_MARKETS = {seed: random_market(seed, n_tokens=8, n_wallets=12, minutes=60) for seed in (5, 6)}


def _latest_position_in_window(events: list[InputEvent], i: int) -> int:
    """The last insertion point after event ``i`` where the watermark is still within the
    window of its ts (events are in canonical order, so the watermark is the previous ts)."""
    limit = events[i].ts + WINDOW_MS
    j = i + 1
    while j < len(events) and events[j].ts <= limit:
        j += 1
    return j


@st.composite
def markets_with_duplicates(draw: st.DrawFn) -> tuple[list[InputEvent], list[InputEvent], int]:
    """(a market, the same with copies of random events inserted later, how many copies)"""
    events = _MARKETS[draw(st.sampled_from(sorted(_MARKETS)))]
    n_copies = draw(st.integers(1, 12))
    inserts: list[tuple[int, int]] = []  # (insert before position, index of the original)
    for _ in range(n_copies):
        i = draw(st.integers(0, len(events) - 1))
        j = draw(st.integers(i + 1, _latest_position_in_window(events, i)))
        inserts.append((j, i))
    with_copies = list(events)
    for j, i in sorted(inserts, reverse=True):  # from the back: earlier positions stay valid
        with_copies.insert(j, events[i])
    return events, with_copies, n_copies


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets_with_duplicates())
def test_duplicates_within_the_window_change_no_output(
    case: tuple[list[InputEvent], list[InputEvent], int],
) -> None:
    events, with_copies, n_copies = case
    clean_engine, dup_engine = FeatureEngine(), FeatureEngine()
    clean = _run(events, clean_engine)
    dup = _run(with_copies, dup_engine)
    assert _comparable(dup) == _comparable(clean)
    assert dup.duplicates == dup_engine.stats.duplicate_events == n_copies
    assert dup_engine.stats.events == clean_engine.stats.events
    assert dup_engine.stats.late_events == clean_engine.stats.late_events
    assert dup_engine.state.snapshot() == clean_engine.state.snapshot()


def test_a_duplicate_after_a_restore_is_still_dropped() -> None:
    events = _MARKETS[5]
    half = len(events) // 2
    engine = FeatureEngine()
    for event in events[:half]:
        engine.process(event)
    restored = FeatureEngine(state=EngineState.from_snapshot(engine.state.snapshot()))
    again = restored.process(events[half - 1])
    assert (again.duplicates, again.signals, restored.stats.duplicate_events) == (1, [], 1)


def test_ids_older_than_the_window_are_forgotten_and_memory_stays_bounded() -> None:
    engine = FeatureEngine()
    curve = Curve()
    start = 1_767_225_600_000
    engine.process(make_genesis("m", start, curve=curve))
    first = make_buy(curve, "m", "w0", 0.1, start + 1_000)
    engine.process(first)
    step = 5_000  # one buy every 5 s for 3 hours
    n = 3 * 3600 * 1000 // step
    peak = 0
    for k in range(n):
        engine.process(make_buy(curve, "m", f"w{k % 50}", 0.01, start + 2_000 + k * step))
        peak = max(peak, len(engine.state.seen))
    cfg = engine.config
    bound = (WINDOW_MS + cfg.sweep_interval_ms) // step + 2
    assert engine.stats.forgotten_ids > n // 2
    assert peak <= bound  # one window plus one sweep interval of events, never the history
    # documented behaviour: a copy that arrives after its id was forgotten is applied again
    late_copy = engine.process(first)
    assert late_copy.duplicates == 0 and engine.stats.late_events == 1


def test_the_dedup_window_is_a_config_field() -> None:
    curve = Curve()
    start = 1_767_225_600_000
    buy = make_buy(curve, "m", "w", 0.1, start)
    later = make_buy(curve, "m", "w", 0.1, start + 40 * MINUTE_MS)  # passes a sweep
    for window, dropped in ((5 * MINUTE_MS, 0), (60 * MINUTE_MS, 1)):
        engine = FeatureEngine(EngineConfig(dedup_window_ms=window))
        engine.process_many([buy, later])
        assert engine.process(buy).duplicates == dropped, window


def test_rocks_backend_carries_seen_through_a_commit_and_a_reopen(tmp_path: Path) -> None:
    events = _MARKETS[6]
    half = len(events) // 2
    rocks = RocksState.fresh(tmp_path / "db", cache_limit=50)
    engine = FeatureEngine(state=rocks.state)
    for event in events[:half]:
        engine.process(event)
    rocks.write(rocks.begin_commit())
    seen_before = {k: v.ts for k, v in engine.state.seen.items()}
    rocks.close()

    reopened = RocksState(tmp_path / "db", cache_limit=50)
    engine = FeatureEngine(state=reopened.state)
    assert {k: v.ts for k, v in engine.state.seen.items()} == seen_before
    assert events[half - 1].event_id in seen_before
    assert engine.process(events[half - 1]).duplicates == 1
    rest = EngineOutput()
    for event in events[half:]:
        rest.extend(engine.process(event))
    rest.extend(engine.flush())
    seen_after = {k: v.ts for k, v in engine.state.seen.items()}
    reopened.close()

    memory = FeatureEngine()
    for event in events[:half]:
        memory.process(event)
    expected = EngineOutput()
    for event in events[half:]:
        expected.extend(memory.process(event))
    expected.extend(memory.flush())
    assert _comparable(rest) == _comparable(expected)
    assert seen_after == {k: v.ts for k, v in memory.state.seen.items()}
    assert memory.stats.forgotten_ids > 0 and len(seen_after) < len(events)


def test_null_name_and_symbol_are_unknown_not_empty() -> None:
    from streams.contracts.features import GENESIS_NAMES

    start = 1_767_225_600_000
    rows = {}
    for label, name in (("known", "Token"), ("unknown", None)):
        curve = Curve()
        genesis = make_genesis(f"m-{label}", start, curve=curve)
        genesis = dataclasses.replace(genesis, schema_version=2, name=name, symbol=name)
        engine = FeatureEngine()
        engine.process(genesis)
        engine.process(make_buy(curve, genesis.mint, "w", 0.5, start + 5_000))
        out = engine.advance_to(start + 2 * MINUTE_MS)
        (row,) = [s for s in out.signals if s.kind == "genesis"]
        rows[label] = dict(zip(GENESIS_NAMES, row.features, strict=True))
    assert (rows["known"]["gen_name_len"], rows["known"]["gen_symbol_len"]) == (5.0, 5.0)
    assert math.isnan(rows["unknown"]["gen_name_len"])
    assert math.isnan(rows["unknown"]["gen_symbol_len"])
