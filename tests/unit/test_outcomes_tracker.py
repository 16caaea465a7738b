"""Outcome peaks, labels and timing against a brute-force recomputation; bounded memory."""

from __future__ import annotations

import dataclasses

import pytest

from streams.contracts.events import Buy, Genesis, Sell
from streams.contracts.features import HOUR_MS, PEAK_HORIZONS_MS
from streams.events.decode import validate_output
from streams.features.engine import FeatureEngine
from streams.testing import Curve, make_buy, make_genesis, random_market, run_events

MARKET = random_market(5, n_tokens=14, minutes=100, trades_per_token=50)


def test_peaks_and_labels_match_brute_force() -> None:
    engine = FeatureEngine()
    out = run_events(MARKET, engine)
    out.extend(engine.advance_to(MARKET[-1].ts + 25 * HOUR_MS))
    position = {e.event_id: k for k, e in enumerate(MARKET)}
    trades = [(k, e) for k, e in enumerate(MARKET) if isinstance(e, Buy | Sell)]
    assert {o.stage for o in out.outcomes} == {"1h", "24h"}
    for outcome in out.outcomes:
        validate_output(dataclasses.asdict(outcome), "outcome")
        s, p = outcome.signal_ts, outcome.price
        if outcome.kind == "buy":
            start = position[outcome.signal_event_id]
        else:
            start = max(k for k, e in enumerate(MARKET) if e.ts <= s)
        after = [e for k, e in trades if k > start and e.mint == outcome.mint]
        horizons = (
            PEAK_HORIZONS_MS if outcome.stage == "24h" else dict(list(PEAK_HORIZONS_MS.items())[:3])
        )
        for name, h in horizons.items():
            prices = [e.price for e in after if e.ts <= s + h]
            assert getattr(outcome, name) == pytest.approx(max([1.0, *(x / p for x in prices)]))
        in_1h = [e for e in after if e.ts <= s + HOUR_MS]
        low = min([1.0, *(e.price / p for e in in_1h)])
        assert outcome.min_1h == pytest.approx(low)
        next_buy = any(isinstance(e, Buy) and e.ts <= s + 30 * 60_000 for e in after)
        assert outcome.labels["is_dead_soon"] == (low < 0.5 or not next_buy)
        assert outcome.peak_1h is not None and outcome.peak_30m is not None  # as checked above
        assert outcome.labels["reach_2x_1h"] == (outcome.peak_1h >= 2.0)
        assert outcome.labels["reach_3x_30m"] == (outcome.peak_30m >= 3.0)
        assert outcome.ts == s + (HOUR_MS if outcome.stage == "1h" else 24 * HOUR_MS)
        if outcome.stage == "1h":
            assert outcome.peak_4h is None and outcome.peak_24h is None


def test_outcome_stages_are_emitted_only_after_the_watermark_passes() -> None:
    engine = FeatureEngine()
    curve = Curve()
    t0 = 1_767_225_600_000
    engine.process(make_genesis("M", t0, curve=curve))
    buy = make_buy(curve, "M", "A", 1.0, t0 + 10)
    engine.process(buy)
    assert engine.advance_to(t0 + 10 + HOUR_MS).outcomes == []
    [o1] = [
        o
        for o in engine.advance_to(t0 + 11 + HOUR_MS).outcomes
        if o.signal_event_id == buy.event_id
    ]
    assert o1.event_id == f"{buy.event_id}:o1h" and o1.peak_1h == 1.0 and o1.labels["is_dead_soon"]
    mine = lambda out: [o for o in out.outcomes if o.signal_event_id == buy.event_id]  # noqa: E731
    assert mine(engine.advance_to(t0 + 10 + 24 * HOUR_MS)) == []
    [o24] = mine(engine.advance_to(t0 + 11 + 24 * HOUR_MS))
    assert o24.event_id == f"{buy.event_id}:o24h" and o24.peak_24h == 1.0


def test_memory_is_released_once_every_horizon_passed() -> None:
    engine = FeatureEngine()
    engine.process_many(MARKET)
    assert len(engine.state.pending) > 0 and len(engine.state.tokens) > 0
    longest = max(len(t.p_ts) for _, t in engine.state.tokens.items())
    assert longest < len(MARKET)
    engine.advance_to(MARKET[-1].ts + 26 * HOUR_MS)
    assert len(engine.state.pending) == 0
    assert len(engine.state.tokens) == 0 and engine.stats.evicted_tokens == 14
    assert len([e for e in MARKET if isinstance(e, Genesis)]) == 14
