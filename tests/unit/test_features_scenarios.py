"""Hand-built scenarios with known values, one per feature group, and the engine's edge policies."""

from __future__ import annotations

import math

import pytest

from streams.contracts.events import InputEvent
from streams.contracts.features import GENESIS_INDEX, HOUR_MS, STANDARD_INDEX
from streams.features.engine import EngineOutput, FeatureEngine, SignalRow
from streams.testing import Curve, make_buy, make_genesis, make_sell

T0 = 1_767_225_600_000


def f(row: SignalRow, name: str) -> float:
    index = STANDARD_INDEX if row.kind == "buy" else GENESIS_INDEX
    return float(row.features[index[name]])


def signal_of(engine: FeatureEngine, event: InputEvent, owned: bool = True) -> SignalRow:
    return row_of(engine.process(event, owned), event)


def row_of(out: EngineOutput, event: InputEvent) -> SignalRow:
    [row] = [s for s in out.signals if s.event_id == event.event_id]
    return row


def test_wallet_win_appears_only_after_the_outcome_resolves() -> None:
    engine = FeatureEngine()
    cx, cy = Curve(), Curve()
    engine.process(make_genesis("X", T0, creator="cx", curve=cx))
    a_buy = make_buy(cx, "X", "A", 0.5, T0 + 1_000)
    first = signal_of(engine, a_buy)
    assert f(first, "wal_n_resolved") == 0 and math.isnan(f(first, "wal_win_rate_2x_1h"))
    engine.process(make_buy(cx, "X", "whale", 60.0, T0 + 2_000))  # ~9x the price
    engine.process(make_genesis("Y", T0 + 10_000, creator="cy", curve=cy))
    due = T0 + 1_000 + HOUR_MS
    at_due_buy = make_buy(cy, "Y", "A", 0.2, due)
    at_due = engine.process(at_due_buy)
    assert at_due.outcomes == []  # resolved only once the watermark passes the due time
    assert f(row_of(at_due, at_due_buy), "wal_n_resolved") == 0
    after_buy = make_buy(cy, "Y", "A", 0.2, due + 1)
    after = engine.process(after_buy)
    [outcome] = [o for o in after.outcomes if o.signal_event_id == a_buy.event_id]
    assert (
        outcome.event_id == f"{a_buy.event_id}:o1h" and outcome.ts == due and outcome.stage == "1h"
    )
    assert outcome.labels["reach_2x_1h"] and outcome.peak_1h is not None and outcome.peak_1h > 8
    row = row_of(after, after_buy)
    assert f(row, "wal_n_resolved") == 1 and f(row, "wal_win_rate_2x_1h") == 1.0
    assert f(row, "wal_mean_log_peak_1h") == pytest.approx(math.log(outcome.peak_1h))
    assert f(row, "reg_n_resolved_1h") == 1 and f(row, "reg_hit_rate_2x_1h") == 1.0
    assert f(row, "wal_n_buys") == 2 and f(row, "wal_n_tokens") == 2


def test_creator_rug_rate_appears_only_after_the_fate_resolves() -> None:
    engine = FeatureEngine()
    cx, cy = Curve(), Curve()
    engine.process(make_genesis("X", T0, creator="C", curve=cx))
    bought = make_buy(cx, "X", "C", 20.0, T0 + 100)
    engine.process(bought)
    engine.process(make_buy(cx, "X", "B", 1.0, T0 + 200))
    engine.process(make_sell(cx, "X", "C", bought.token_amount, T0 + 300))
    engine.process(make_genesis("Y", T0 + 600_000, creator="C", curve=cy))
    at_due = signal_of(engine, make_buy(cy, "Y", "D", 0.3, T0 + HOUR_MS))
    assert f(at_due, "cre_n_tokens") == 1 and f(at_due, "cre_n_resolved") == 0
    assert math.isnan(f(at_due, "cre_rug_rate")) and math.isnan(f(at_due, "cre_grad_rate"))
    after = signal_of(engine, make_buy(cy, "Y", "D", 0.3, T0 + HOUR_MS + 1))
    assert f(after, "cre_n_resolved") == 1
    assert f(after, "cre_rug_rate") == 1.0 and f(after, "cre_grad_rate") == 0.0
    assert f(after, "cre_secs_since_prev_launch") == 600.0
    # on the rugged token itself, its own fate is not part of "the creator's other tokens"
    own = signal_of(engine, make_buy(cx, "X", "E", 0.1, T0 + HOUR_MS + 2))
    assert f(own, "cre_n_tokens") == 1 and f(own, "cre_n_resolved") == 0
    assert f(own, "tok_creator_sold") == 1 and f(own, "tok_creator_buy_sol") == 20.0


def test_cobuyers_are_counted_once_they_co_bought_twice() -> None:
    engine = FeatureEngine()
    curves = {m: Curve() for m in ("X1", "X2", "X3")}
    for i, mint in enumerate(curves):
        engine.process(make_genesis(mint, T0 + i * 1_000, creator=f"c{i}", curve=curves[mint]))
    engine.process(make_buy(curves["X1"], "X1", "A", 0.5, T0 + 10_000))
    b1 = signal_of(engine, make_buy(curves["X1"], "X1", "B", 0.5, T0 + 20_000))
    assert f(b1, "cooc_n_partners") == 0 and f(b1, "cooc_max_partner_weight") == 0
    engine.process(make_buy(curves["X2"], "X2", "A", 0.5, T0 + 30_000))
    b2 = signal_of(engine, make_buy(curves["X2"], "X2", "B", 0.5, T0 + 40_000))
    assert f(b2, "cooc_n_partners") == 0  # one co-buy so far: weight ~1 < 1.5
    assert f(b2, "cooc_weight_in_token") == pytest.approx(1.0, abs=1e-3)
    engine.process(make_buy(curves["X3"], "X3", "A", 0.5, T0 + 50_000))
    b3 = signal_of(engine, make_buy(curves["X3"], "X3", "B", 0.5, T0 + 60_000))
    assert f(b3, "cooc_n_partners") == 1 and f(b3, "cooc_cobuyers_in_token") == 1
    assert f(b3, "cooc_max_partner_weight") == pytest.approx(2.0, abs=1e-2)
    lone = signal_of(engine, make_buy(curves["X3"], "X3", "Z", 0.5, T0 + 61_000))
    assert f(lone, "cooc_cobuyers_in_token") == 0


def test_genesis_signal_at_t0_plus_60s_with_slots_and_windows() -> None:
    engine = FeatureEngine()
    curve = Curve()
    genesis = make_genesis("M", T0, creator="C", curve=curve, slot=100)
    launch = genesis.virtual_sol_reserves / genesis.virtual_token_reserves
    engine.process(genesis)
    for event in (
        make_buy(curve, "M", "C", 1.0, T0, slot=100),
        make_buy(curve, "M", "S1", 0.5, T0 + 1, slot=100),
        make_buy(curve, "M", "S2", 0.5, T0 + 400, slot=101),
        make_buy(curve, "M", "S3", 2.0, T0 + 5_000, slot=112),
    ):
        assert engine.process(event).signals[0].kind == "buy"
    last_in = make_buy(curve, "M", "S4", 0.25, T0 + 60_000, slot=250)
    price_at_60 = last_in.price
    assert [s.kind for s in engine.process(last_in).signals] == ["buy"]
    out = engine.process(make_buy(curve, "M", "S5", 0.1, T0 + 60_001, slot=251))
    gen, buy = out.signals
    assert gen.kind == "genesis" and gen.ts == T0 + 60_000
    assert gen.event_id == f"{genesis.event_id}:g60" and gen.price == price_at_60
    assert f(gen, "gen_n_buys") == 5 and f(gen, "gen_n_unique_buyers") == 5
    assert f(gen, "gen_sol_volume") == pytest.approx(4.25)
    assert f(gen, "gen_n_sniper_buys_slot0") == 2 and f(gen, "gen_bundle_size") == 2
    assert f(gen, "gen_creator_buy_sol") == 1.0 and f(gen, "gen_creator_sold") == 0
    assert f(gen, "gen_price_mult") == pytest.approx(price_at_60 / launch)
    assert f(gen, "gen_buys_0_10s") == 4 and f(gen, "gen_buys_50_60s") == 1
    assert f(gen, "gen_first_buy_delay_s") == 0 and f(gen, "gen_slot_span") == 150
    # the buy at t0+60.001 s: the 60 s window is (t0+1 ms, t0+60.001 s]
    assert f(buy, "tok_buys_60s") == 4 and f(buy, "tok_n_buys") == 6
    assert f(buy, "tok_sol_volume_60s") == pytest.approx(0.5 + 2.0 + 0.25 + 0.1)
    assert f(buy, "tok_age_s") == 60.001 and f(buy, "tok_sniper_buys") == 2
    assert f(buy, "tok_price_mult_from_launch") == pytest.approx(buy.price / launch)


def test_late_events_are_processed_at_the_watermark() -> None:
    engine = FeatureEngine()
    curve = Curve()
    engine.process(make_genesis("M", T0, curve=curve))
    engine.process(make_buy(curve, "M", "A", 0.5, T0 + 10_000))
    late = engine.process(make_buy(curve, "M", "B", 0.5, T0 + 5_000))
    assert engine.stats.late_events == 1 and late.signals[0].ts == T0 + 10_000
    assert f(late.signals[0], "tok_secs_since_prev_trade") == 0.0


def test_unowned_events_update_state_but_emit_nothing() -> None:
    engine = FeatureEngine()
    cx, cy = Curve(), Curve()
    assert engine.process(make_genesis("X", T0, creator="c", curve=cx), owned=False).signals == []
    silent = engine.process(make_buy(cx, "X", "A", 0.5, T0 + 1_000), owned=False)
    engine.process(make_buy(cx, "X", "whale", 60.0, T0 + 2_000), owned=False)
    assert silent.signals == [] and silent.outcomes == []
    engine.process(make_genesis("Y", T0 + 5_000, creator="c2", curve=cy))
    last = make_buy(cy, "Y", "A", 0.2, T0 + 2 * HOUR_MS)
    out = engine.process(last)
    assert all(o.mint == "Y" for o in out.outcomes)  # no outcome for unowned signals
    row = row_of(out, last)
    assert f(row, "wal_n_buys") == 1 and f(row, "wal_n_resolved") == 1
    assert f(row, "wal_win_rate_2x_1h") == 1.0


def test_duplicate_genesis_and_trades_before_genesis_do_not_crash() -> None:
    engine = FeatureEngine()
    curve = Curve()
    early = signal_of(engine, make_buy(curve, "M", "A", 0.5, T0))
    assert math.isnan(f(early, "tok_age_s")) and math.isnan(f(early, "cre_n_tokens"))
    engine.process(make_genesis("M", T0 + 1, creator="c"))
    engine.process(make_genesis("M", T0 + 2, creator="c"))
    assert engine.stats.duplicate_genesis == 1 and engine.stats.trades_without_genesis == 1
