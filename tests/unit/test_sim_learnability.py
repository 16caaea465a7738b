"""The simulated market leaves something real but noisy to learn for ``reach_2x_1h``.

Labels come from the events alone (peak price within 1 h after each buy). A logistic regression
on a few point-in-time observables must beat the base rate clearly; given the hidden quality
from the truth file it must do clearly better still.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from streams.sim import SimConfig, simulate

HOUR_MS = 3_600_000
CONFIG = SimConfig(
    seed=5, start=datetime(2026, 1, 1, tzinfo=UTC), hours=6.0, launch_rate_per_day=4000
)


class _Mint:
    def __init__(self, ts: int, creator: str, creator_history: tuple[float, float]) -> None:
        self.launch_ts, self.creator = ts, creator
        self.buys = self.sells = 0
        self.creator_prior = creator_history  # (past launches, past share with a dev sell)
        self.dev_sold = False
        self.peak_vsol = 30.0


def _dataset(
    events: list[dict[str, object]], quality: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per buy: observable features, hidden quality, label, ts (buys with a full 1 h horizon)."""
    mints: dict[str, _Mint] = {}
    by_creator: dict[str, list[_Mint]] = defaultdict(list)
    rows: list[list[float]] = []
    hidden: list[float] = []
    ts_all: list[int] = []
    trades: dict[str, list[tuple[int, float, int]]] = defaultdict(list)  # (ts, price, row|-1)
    for ev in events:
        mint, ts = str(ev["mint"]), int(ev["ts"])  # type: ignore[call-overload]
        if ev["type"] == "token_genesis":
            past = by_creator[str(ev["creator"])]
            dev_share = sum(m.dev_sold for m in past) / len(past) if past else 0.0
            mints[mint] = m = _Mint(ts, str(ev["creator"]), (len(past), dev_share))
            by_creator[m.creator].append(m)
            continue
        if ev["type"] == "token_migrated":  # no price: the graduating buy carries it
            continue
        m = mints[mint]
        vsol = float(ev["virtual_sol_reserves"])  # type: ignore[arg-type]
        price = vsol / float(ev["virtual_token_reserves"])  # type: ignore[arg-type]
        row = -1
        if ev["type"] == "wallet_buy":
            m.buys += 1
            rows.append(
                [
                    math.log1p(m.buys),
                    math.log1p(m.sells),
                    math.log1p((ts - m.launch_ts) / 1000.0),
                    math.log(vsol / 30.0),
                    math.log(m.peak_vsol / vsol),
                    math.log1p(m.creator_prior[0]),
                    m.creator_prior[1],
                    float(m.dev_sold),
                ]
            )
            hidden.append(quality[mint])
            row = len(rows) - 1
            ts_all.append(ts)
        else:
            m.sells += 1
            m.dev_sold = m.dev_sold or ev["wallet"] == m.creator
        m.peak_vsol = max(m.peak_vsol, vsol)
        trades[mint].append((ts, price, row))
    labels = np.zeros(len(rows), dtype=bool)
    for series in trades.values():
        ts_arr = np.array([t for t, _, _ in series])
        price_arr = np.array([p for _, p, _ in series])
        for i, (t, p, row) in enumerate(series):
            if row < 0:
                continue
            end = int(np.searchsorted(ts_arr, t + HOUR_MS, side="right"))
            later = price_arr[i + 1 : end]
            labels[row] = later.size > 0 and later.max() >= 2.0 * p
    return np.array(rows), np.array(hidden)[:, None], labels, np.array(ts_all)


def _pr_auc(x: np.ndarray, y: np.ndarray, train: np.ndarray) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x[train], y[train])
    return float(average_precision_score(y[~train], model.predict_proba(x[~train])[:, 1]))


@pytest.mark.slow
def test_observables_beat_the_base_rate_and_hidden_quality_beats_observables() -> None:
    truth: list[dict[str, object]] = []
    events = list(simulate(CONFIG, truth.append))
    quality = {str(t["mint"]): float(t["quality_z"]) for t in truth if t["kind"] == "token"}  # type: ignore[arg-type]
    x, z, y, ts = _dataset(events, quality)
    full = ts < CONFIG.end_ms - HOUR_MS  # only buys whose 1 h horizon lies inside the run
    x, z, y, ts = x[full], z[full], y[full], ts[full]
    train = ts < np.quantile(ts, 0.6)  # past -> future split
    base = float(y[~train].mean())
    assert 0.03 <= float(y.mean()) <= 0.2, "reach_2x_1h base rate out of the intended range"
    observed = _pr_auc(x, y, train)
    informed = _pr_auc(np.hstack([x, z]), y, train)
    assert observed > base + 0.08, (observed, base)
    assert informed > observed + 0.05, (informed, observed)
