"""Calibration report: stylised facts of a simulated market next to the reference figures.

Everything here is measured from the events alone (no truth), the way a quant would see them.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HOUR_MS = 3_600_000
DUMP_WINDOW_MS = 20 * 60_000
SNIPE_SLOTS = 3  # buys within this many slots after the creation slot count as snipes


@dataclass(frozen=True, slots=True)
class ReportRow:
    metric: str
    value: str
    reference: str


@dataclass(slots=True)
class _Mint:
    slot: int
    creator: str
    ts: array = field(default_factory=lambda: array("q"))
    price: array = field(default_factory=lambda: array("d"))
    is_buy: array = field(default_factory=lambda: array("b"))
    grad_ts: int = -1
    grad_price: float = 0.0
    amm_min_20m: float = float("inf")
    amm_max: float = 0.0


def forward_max(ts: np.ndarray, price: np.ndarray, horizon_ms: int) -> np.ndarray:
    """For each trade i, the max price over the later trades j > i with ts_j <= ts_i + horizon
    (-inf when there are none). Sliding-window max from the right with a monotone deque."""
    n = len(ts)
    out = np.full(n, -np.inf)
    window: deque[int] = deque()  # indices, prices increasing left to right
    for i in range(n - 2, -1, -1):
        new = i + 1
        while window and price[window[0]] <= price[new]:
            window.popleft()
        window.appendleft(new)
        limit = ts[i] + horizon_ms
        while window and ts[window[-1]] > limit:
            window.pop()
        if window:
            out[i] = price[window[-1]]
    return out


class Calibrator:
    """Streaming collector: ``add`` every event, then ``result()``. Keeps compact per-mint arrays."""

    def __init__(self) -> None:
        self.mints: dict[str, _Mint] = {}
        self.snipes = self.bundles = self.dev_sell_tokens = 0
        self._dev_sold: set[str] = set()
        self._seen_wallets: set[str] = set()
        self._day_active: dict[int, int] = {}  # UTC day -> curve traders active that day
        self._day_new: dict[int, int] = {}  # ... of whom first seen that day
        self._day_wallets: dict[int, set[str]] = {}

    def add(self, ev: dict[str, Any]) -> None:
        kind = ev["type"]
        if kind == "token_genesis":
            self.mints[ev["mint"]] = _Mint(ev["ts"] // 400, ev["creator"])
            return
        m = self.mints.get(ev["mint"])
        if m is None or kind == "token_migrated":  # the graduating buy says it all (real 0)
            return
        ts, p = ev["ts"], ev["virtual_sol_reserves"] / ev["virtual_token_reserves"]
        buy = kind == "wallet_buy"
        m.ts.append(ts)
        m.price.append(p)
        m.is_buy.append(1 if buy else 0)
        if buy and ev["wallet"] != m.creator:
            lag = ts // 400 - m.slot
            self.bundles += lag == 0
            self.snipes += 1 <= lag <= SNIPE_SLOTS
        if not buy and ev["wallet"] == m.creator and ev["mint"] not in self._dev_sold:
            self._dev_sold.add(ev["mint"])
            self.dev_sell_tokens += 1
        if ev["venue"] == "curve":
            self._count_trader(ts // 86_400_000, ev["wallet"])
        elif m.grad_ts >= 0:
            m.amm_max = max(m.amm_max, p)
        if ev["venue"] == "curve" and ev["real_token_reserves"] == 0.0:
            m.grad_ts, m.grad_price = ts, p
        elif ev["venue"] == "amm" and m.grad_ts >= 0 and ts - m.grad_ts <= DUMP_WINDOW_MS:
            m.amm_min_20m = min(m.amm_min_20m, p)

    def _count_trader(self, day: int, wallet: str) -> None:
        today = self._day_wallets.setdefault(day, set())
        if wallet in today:
            return
        today.add(wallet)
        self._day_active[day] = self._day_active.get(day, 0) + 1
        if wallet not in self._seen_wallets:
            self._seen_wallets.add(wallet)
            self._day_new[day] = self._day_new.get(day, 0) + 1

    def new_trader_share(self) -> float:
        """Share of each day's curve traders first seen that day, over the days after the
        first (on day one everyone is new); NaN for runs shorter than two UTC days."""
        days = sorted(self._day_active)[1:]
        active = sum(self._day_active[d] for d in days)
        return sum(self._day_new.get(d, 0) for d in days) / active if active else float("nan")

    def result(self) -> dict[str, float]:
        return {**_measure(self), "new_curve_trader_share": self.new_trader_share()}


def calibration(events: Iterable[dict[str, Any]]) -> dict[str, float]:
    """The measured figures (see ``report_rows`` for the table with references)."""
    cal = Calibrator()
    for ev in events:
        cal.add(ev)
    return cal.result()


def _measure(cal: Calibrator) -> dict[str, float]:
    mints = cal.mints
    trades = np.array([len(m.ts) for m in mints.values()], dtype=float)
    peaks, reached, labels = [], 0, []
    graduated = dumped = 0
    runs: list[float] = []  # per migrated token: post-migration peak / graduation price
    for m in mints.values():
        if not len(m.ts):
            continue
        ts, price = np.frombuffer(m.ts, dtype=np.int64), np.frombuffer(m.price, dtype=np.float64)
        first = price[0]
        peaks.append(price.max() / first)
        reached += bool(price[ts <= ts[0] + HOUR_MS].max() >= 2.0 * first)
        fmax = forward_max(ts, price, HOUR_MS)
        buys = np.frombuffer(m.is_buy, dtype=np.int8) == 1
        labels.append(fmax[buys] >= 2.0 * price[buys])
        if m.grad_ts >= 0:
            graduated += 1
            dumped += m.amm_min_20m <= 0.3 * m.grad_price
            runs.append(max(m.amm_max, m.grad_price) / m.grad_price)
    n = max(len(mints), 1)
    label = np.concatenate(labels) if labels else np.zeros(0, dtype=bool)
    peak = np.array(peaks) if peaks else np.ones(1)
    n_buys = max(len(label), 1)
    return {
        "launches": float(len(mints)),
        "trades": float(trades.sum()),
        "buys": float(len(label)),
        "trades_per_token_mean": float(trades.mean()) if len(trades) else 0.0,
        "trades_per_token_median": float(np.median(trades)) if len(trades) else 0.0,
        "trades_per_token_p90": float(np.percentile(trades, 90)) if len(trades) else 0.0,
        "trades_per_token_max": float(trades.max()) if len(trades) else 0.0,
        "graduation_rate": graduated / n,
        "migrated_dump_70pct_20m": dumped / max(graduated, 1),
        "migrated_run_3x_share": float(np.mean(np.array(runs) >= 3.0)) if runs else 0.0,
        "migrated_run_max": float(max(runs)) if runs else 0.0,
        "reached_2x_first_price_1h": reached / n,
        "peak_multiple_p50": float(np.percentile(peak, 50)),
        "peak_multiple_p90": float(np.percentile(peak, 90)),
        "peak_multiple_p99": float(np.percentile(peak, 99)),
        "peak_multiple_max": float(peak.max()),
        "snipe_buy_share": cal.snipes / n_buys,
        "bundle_buy_share": cal.bundles / n_buys,
        "dev_sell_token_share": cal.dev_sell_tokens / n,
        "reach_2x_1h_base_rate": float(label.mean()) if len(label) else 0.0,
    }


def report_rows(m: dict[str, float], days: float) -> list[ReportRow]:
    per_day = 1.0 / days if days > 0 else 0.0
    pct = "{:.2%}".format
    return [
        ReportRow(
            "launches (per day)",
            f"{m['launches']:,.0f} ({m['launches'] * per_day:,.0f}/d)",
            "~20,000/day",
        ),
        ReportRow(
            "trades (per day)",
            f"{m['trades']:,.0f} ({m['trades'] * per_day:,.0f}/d)",
            "~840,000/day",
        ),
        ReportRow("trades per token: mean", f"{m['trades_per_token_mean']:.1f}", "~42"),
        ReportRow(
            "trades per token: median / p90 / max",
            f"{m['trades_per_token_median']:.0f} / {m['trades_per_token_p90']:.0f} / "
            f"{m['trades_per_token_max']:,.0f}",
            "very skewed (median << mean)",
        ),
        ReportRow("graduation rate", pct(m["graduation_rate"]), "0.63-0.71%"),
        ReportRow(
            "migrated tokens losing >=70% within 20 min", pct(m["migrated_dump_70pct_20m"]), "~75%"
        ),
        ReportRow(
            "migrated tokens peaking >= 3x graduation price after it; max multiple",
            f"{pct(m['migrated_run_3x_share'])}; {m['migrated_run_max']:.1f}x",
            "a minority runs far past graduation",
        ),
        ReportRow(
            "curve traders new that day (days after the first)",
            pct(m["new_curve_trader_share"])
            if m["new_curve_trader_share"] == m["new_curve_trader_share"]
            else "n/a (< 2 days)",
            "~37% of ~106k/day",
        ),
        ReportRow(
            "tokens reaching 2x first trade price within 1h",
            pct(m["reached_2x_first_price_1h"]),
            "small minority",
        ),
        ReportRow(
            "peak multiple vs first trade: p50 / p90 / p99 / max",
            f"{m['peak_multiple_p50']:.2f} / {m['peak_multiple_p90']:.2f} / "
            f"{m['peak_multiple_p99']:.1f} / {m['peak_multiple_max']:.1f}",
            "graduation ~14-15x launch price",
        ),
        ReportRow(
            "sniper buys (slots 1-3 after creation)",
            pct(m["snipe_buy_share"]),
            "present, first seconds",
        ),
        ReportRow(
            "bundle buys (creation slot, not creator)",
            pct(m["bundle_buy_share"]),
            "present, cabals",
        ),
        ReportRow("tokens with a dev sell", pct(m["dev_sell_token_share"]), "common (rugs)"),
        ReportRow(
            "reach_2x_1h base rate over buys", pct(m["reach_2x_1h_base_rate"]), "target 3-15%"
        ),
    ]
