"""Graduation from the v2 ``token_migrated`` event: the same bookkeeping as the trade path
(a trade on the AMM or one that empties the curve), counted once whichever comes first."""

from __future__ import annotations

import dataclasses

import numpy as np

from streams.contracts.events import InputEvent
from streams.contracts.features import HOUR_MS, STANDARD_NAMES
from streams.events import TokenMigrated
from streams.features.engine import EngineOutput, FeatureEngine
from streams.testing import Curve, make_buy, make_genesis, make_sell, next_event_id

T0 = 1_767_225_600_000


def _migrated(mint: str, ts: int, **fields: object) -> TokenMigrated:
    return TokenMigrated(
        schema_version=2, type="token_migrated", event_id=next_event_id("mig"), ts=ts, mint=mint,
        **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def _graduating_market() -> tuple[list[InputEvent], int]:
    """A token whose curve a whale empties at t0 + 5 min, then AMM trades; returns the events
    and the index of the emptying buy."""
    curve = Curve()
    events: list[InputEvent] = [make_genesis("m", T0, creator="dev", curve=curve, slot=10)]
    for k in range(6):
        events.append(make_buy(curve, "m", f"w{k}", 0.8, T0 + 2_000 + k * 7_000, slot=20 + k))
    events.append(make_buy(curve, "m", "whale", 120.0, T0 + 5 * 60_000, slot=900))
    emptying = len(events) - 1
    assert curve.graduated and events[emptying].real_token_reserves == 0.0  # type: ignore[union-attr]
    for k in range(8):
        ts = T0 + 6 * 60_000 + k * 30_000
        if k % 3 == 2:
            events.append(make_sell(curve, "m", "w1", 1_000_000.0, ts))
        else:
            events.append(make_buy(curve, "m", f"amm{k}", 1.5, ts))
    return events, emptying


def _run(events: list[InputEvent]) -> tuple[EngineOutput, FeatureEngine]:
    engine = FeatureEngine()
    out = EngineOutput()
    for event in events:  # in the order given: a migration placed before a same-ts trade
        out.extend(engine.process(event))
    out.extend(engine.advance_to(T0 + 2 * HOUR_MS))  # past the token's fate (t0 + 1 h)
    return out, engine


def _rows(out: EngineOutput) -> list[tuple[str, bytes]]:
    return [(s.event_id, np.asarray(s.features).tobytes()) for s in out.signals]


def test_a_migration_right_before_the_emptying_buy_changes_no_feature() -> None:
    events, emptying = _graduating_market()
    by_trade, trade_engine = _run(events)
    with_event = list(events)
    with_event.insert(emptying, _migrated("m", events[emptying].ts, pool="pool1", sol_amount=85.0))
    by_event, event_engine = _run(with_event)
    assert _rows(by_event) == _rows(by_trade)
    assert [dataclasses.asdict(o) for o in by_event.outcomes] == [
        dataclasses.asdict(o) for o in by_trade.outcomes
    ]
    assert event_engine.stats.migrations == 1 and trade_engine.stats.migrations == 0
    assert list(event_engine._regime.grads) == list(trade_engine._regime.grads)


def test_graduation_from_the_event_alone_when_trades_never_show_it() -> None:
    """A feed whose trades carry no sign of graduation (still 'curve', tokens left)."""
    curve = Curve()
    events: list[InputEvent] = [make_genesis("m", T0, creator="dev", curve=curve)]
    events += [make_buy(curve, "m", f"w{k}", 0.5, T0 + 1_000 * (k + 1)) for k in range(5)]
    migrate_ts = T0 + 10 * 60_000
    after = make_buy(curve, "m", "late", 0.5, migrate_ts + 1_000)
    assert after.venue == "curve" and after.real_token_reserves > 0

    without, plain = _run([*events, after])
    with_event, engine = _run([*events, _migrated("m", migrate_ts), after])
    amm_col = STANDARD_NAMES.index("buy_is_amm")
    assert without.signals[-1].features[amm_col] == with_event.signals[-1].features[amm_col] == 0.0
    assert not plain._creators.get("dev").n_grad  # type: ignore[union-attr]
    assert engine._creators.get("dev").n_grad == 1  # type: ignore[union-attr]  # the fate saw it
    assert list(engine._regime.grads) == [migrate_ts]
    assert _rows(with_event) != _rows(without)  # graduation is a feature input: it shows


def test_a_migration_after_the_trade_path_graduated_counts_once() -> None:
    events, emptying = _graduating_market()
    late = _migrated("m", events[emptying].ts + 3_000, destination="pumpswap")
    with_event = sorted([*events, late], key=lambda e: e.ts)
    _, engine = _run(with_event)
    assert engine.stats.migrations == 1
    assert list(engine._regime.grads) == [events[emptying].ts]
    assert engine._creators.get("dev").n_grad == 1  # type: ignore[union-attr]


def test_a_migration_of_an_unknown_token_is_ignored_and_counted() -> None:
    engine = FeatureEngine()
    out = engine.process(_migrated("nobody", T0))
    assert (out.signals, out.outcomes) == ([], [])
    assert engine.stats.migrations_without_token == 1
    assert engine.state.tokens.get("nobody") is None
    assert list(engine._regime.grads) == []
