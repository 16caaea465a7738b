"""Bonding-curve and AMM math of the simulator."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.sim import curve

sol = st.floats(min_value=1e-4, max_value=200.0)
fees = st.floats(min_value=0.0, max_value=0.05)


@given(sol, fees)
def test_buy_then_sell_returns_less_than_paid(paid: float, fee: float) -> None:
    v, t, r = curve.INITIAL_VIRTUAL_SOL, curve.INITIAL_VIRTUAL_TOKENS, curve.INITIAL_REAL_TOKENS
    buy = curve.curve_buy(v, t, r, paid, fee)
    sell = curve.curve_sell(buy.vsol, buy.vtok, buy.real_tok, buy.tokens, fee)
    assert sell.sol <= buy.sol * (1 + 1e-12)
    assert sell.vsol > 0 and sell.vtok > 0 and sell.real_tok >= 0


@given(st.lists(st.tuples(st.booleans(), sol), min_size=1, max_size=60), fees)
def test_reserves_never_negative_and_graduation_exactly_at_zero(
    steps: list[tuple[bool, float]], fee: float
) -> None:
    v, t, r = curve.INITIAL_VIRTUAL_SOL, curve.INITIAL_VIRTUAL_TOKENS, curve.INITIAL_REAL_TOKENS
    held = 0.0
    for is_buy, amount in steps:
        if is_buy:
            fill = curve.curve_buy(v, t, r, amount, fee)
            held += fill.tokens
        elif held > 0:
            fill = curve.curve_sell(v, t, r, held / 2, fee)
            held -= fill.tokens
        else:
            continue
        v, t, r = fill.vsol, fill.vtok, fill.real_tok
        assert v > 0 and t > 0 and r >= 0 and fill.sol > 0
        if fill.graduated:
            assert r == 0.0
            assert t == curve.GRADUATION_VIRTUAL_TOKENS
            return
        assert r > 0


def test_graduation_caps_the_last_buy_at_the_remaining_real_tokens() -> None:
    v, t, r = curve.INITIAL_VIRTUAL_SOL, curve.INITIAL_VIRTUAL_TOKENS, curve.INITIAL_REAL_TOKENS
    fill = curve.curve_buy(v, t, r, 1_000.0, 0.01)
    assert fill.graduated and fill.real_tok == 0.0
    assert fill.tokens == pytest.approx(r)
    # ~85 real SOL raised, vSOL ~115, price ~14-15x launch
    assert fill.vsol == pytest.approx(115.0, abs=0.1)
    assert fill.sol == pytest.approx((fill.vsol - v) / 0.99)
    ratio = curve.price(fill.vsol, fill.vtok) / curve.price(v, t)
    assert 14.0 < ratio < 15.5
    # launch market cap ~28 SOL
    assert curve.price(v, t) * curve.TOTAL_SUPPLY == pytest.approx(27.96, abs=0.05)


@pytest.mark.parametrize("fee", [0.0, 0.01, 0.03])
def test_fee_parameter_is_respected(fee: float) -> None:
    v, t, r = curve.INITIAL_VIRTUAL_SOL, curve.INITIAL_VIRTUAL_TOKENS, curve.INITIAL_REAL_TOKENS
    buy = curve.curve_buy(v, t, r, 2.0, fee)
    assert buy.sol == 2.0
    assert buy.vsol - v == pytest.approx(2.0 * (1 - fee))
    assert buy.tokens == pytest.approx(t - v * t / (v + 2.0 * (1 - fee)))
    sell = curve.curve_sell(buy.vsol, buy.vtok, buy.real_tok, buy.tokens, fee)
    assert sell.sol == pytest.approx((buy.vsol - sell.vsol) * (1 - fee))


def test_amm_round_trip_loses_the_fee_and_keeps_k() -> None:
    pool_sol, pool_tok = curve.migration_pool(115.0)
    assert pool_sol == pytest.approx(115.0 - 30.0 - curve.MIGRATION_FEE_SOL)
    buy = curve.amm_buy(pool_sol, pool_tok, 5.0, 0.0025)
    assert buy.vsol * buy.vtok == pytest.approx(pool_sol * pool_tok)
    sell = curve.amm_sell(buy.vsol, buy.vtok, buy.tokens, 0.0025)
    assert sell.sol < 5.0 and sell.real_tok == 0.0
