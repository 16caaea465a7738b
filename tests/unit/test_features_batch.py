"""Incremental accumulators equal a batch numpy recomputation over every prefix of a log."""

from __future__ import annotations

import numpy as np
import pytest

from streams.contracts.events import Buy, Genesis, Sell
from streams.contracts.features import STANDARD_INDEX
from streams.testing import random_market, run_events

MARKET = random_market(11, n_tokens=14, n_wallets=20, minutes=120, trades_per_token=60)


def _columns() -> dict[str, np.ndarray]:
    trades = [e for e in MARKET]
    return {
        "ts": np.array([e.ts for e in trades], dtype=np.int64),
        "mint": np.array([e.mint for e in trades]),
        "wallet": np.array([getattr(e, "wallet", "") for e in trades]),
        "sol": np.array([getattr(e, "sol_amount", 0.0) for e in trades]),
        "price": np.array(
            [e.price if isinstance(e, Buy | Sell) else np.nan for e in trades], dtype=np.float64
        ),
        "buy": np.array([isinstance(e, Buy) for e in trades]),
        "sell": np.array([isinstance(e, Sell) for e in trades]),
        "genesis": np.array([isinstance(e, Genesis) for e in trades]),
    }


def test_incremental_features_match_batch_recomputation_on_every_prefix() -> None:
    cols = _columns()
    out = run_events(MARKET)
    position = {e.event_id: k for k, e in enumerate(MARKET)}
    t0_of = {e.mint: e.ts for e in MARKET if isinstance(e, Genesis)}
    checked = 0
    for row in out.signals:
        if row.kind != "buy":
            continue
        k = position[row.event_id]
        t = row.ts
        upto = np.arange(len(MARKET)) <= k
        tok = upto & (cols["mint"] == row.mint)
        tok_trades = tok & (cols["buy"] | cols["sell"])
        buys = tok & cols["buy"]
        sells = tok & cols["sell"]
        in60 = cols["ts"] > t - 60_000
        in5m = cols["ts"] > t - 300_000
        prior_wallet_buys = (
            (np.arange(len(MARKET)) < k) & cols["buy"] & (cols["wallet"] == row.wallet)
        )
        buy_sol_5m = cols["sol"][buys & in5m].sum()
        expected = {
            "tok_n_buys": buys.sum(),
            "tok_n_sells": sells.sum(),
            "tok_buys_60s": (buys & in60).sum(),
            "tok_sol_volume_60s": cols["sol"][buys & in60].sum(),
            "tok_buys_5m": (buys & in5m).sum(),
            "tok_sol_volume_5m": buy_sol_5m,
            "tok_sell_buy_ratio_5m": cols["sol"][sells & in5m].sum() / buy_sol_5m,
            "tok_sol_volume_total": cols["sol"][buys].sum(),
            "tok_sell_sol_total": cols["sol"][sells].sum(),
            "tok_max_buy_sol": cols["sol"][buys].max(),
            "tok_n_unique_buyers": len(set(cols["wallet"][buys])),
            "tok_price_mult_from_first": row.price / cols["price"][tok_trades][0],
            "tok_price_mult_from_max": row.price / cols["price"][tok_trades].max(),
            "tok_age_s": (t - t0_of[row.mint]) / 1000.0,
            "wal_n_buys": prior_wallet_buys.sum(),
            "wal_sol_spent": cols["sol"][prior_wallet_buys].sum(),
            "reg_buys_60s": (upto & cols["buy"] & in60).sum(),
            "reg_sol_volume_60s": cols["sol"][upto & cols["buy"] & in60].sum(),
            "reg_launches_10m": (upto & cols["genesis"] & (cols["ts"] > t - 600_000)).sum(),
        }
        for name, value in expected.items():
            got = row.features[STANDARD_INDEX[name]]
            assert got == pytest.approx(float(value), rel=1e-9, abs=1e-9), (name, row.event_id)
        checked += 1
    assert checked > 300
