"""Calibration report: the sliding forward max and the measured figures."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from streams.sim import SimConfig, simulate
from streams.sim.report import calibration, forward_max, report_rows


@given(st.lists(st.tuples(st.integers(0, 50), st.floats(0.1, 10.0)), min_size=1, max_size=40))
def test_forward_max_matches_brute_force(steps: list[tuple[int, float]]) -> None:
    ts = np.cumsum([s for s, _ in steps])
    price = np.array([p for _, p in steps])
    got = forward_max(ts, price, 60)
    for i in range(len(ts)):
        later = [price[j] for j in range(i + 1, len(ts)) if ts[j] <= ts[i] + 60]
        assert got[i] == (max(later) if later else -np.inf)


def test_report_measures_a_small_market() -> None:
    cfg = SimConfig(
        seed=2, start=datetime(2026, 1, 1, tzinfo=UTC), hours=3.0, launch_rate_per_day=4000
    )
    events = list(simulate(cfg))
    m = calibration(events)
    launches = sum(e["type"] == "token_genesis" for e in events)
    assert m["launches"] == launches
    migrations = sum(e["type"] == "token_migrated" for e in events)
    assert m["trades"] == len(events) - launches - migrations
    assert m["trades_per_token_median"] <= m["trades_per_token_mean"]  # skewed
    assert 0.0 < m["reach_2x_1h_base_rate"] < 0.3
    assert 0.0 < m["snipe_buy_share"] < 0.5 and 0.0 < m["bundle_buy_share"] < 0.5
    assert m["peak_multiple_p50"] >= 1.0
    rows = report_rows(m, cfg.hours / 24)
    assert any(r.metric.startswith("graduation rate") for r in rows)
