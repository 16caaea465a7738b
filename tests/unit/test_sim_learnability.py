"""Honesty guard: the simulated market leaves something real but noisy to learn, and does not
hand over what it hides.

Labels come from the events alone (peak price within 1 h after each buy). A logistic regression
on a few point-in-time observables must beat the base rate clearly, and stay well below an
oracle that also sees the hidden per-token truth fixed at launch (quality, attention to come,
planned rug): ``ORACLE_MARGIN``. No wallet archetype may be recoverable from per-wallet
behaviour with cross-validated ROC-AUC above ``ARCHETYPE_AUC_BOUND``.

README's learnability line is printed by ``python -m tests.unit.test_sim_learnability``: the same
functions the tests assert on.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from datetime import UTC, datetime

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from streams.sim import SimConfig, simulate

HOUR_MS = 3_600_000
ORACLE_MARGIN = 0.10  # oracle PR-AUC minus observable-only PR-AUC, at least
ARCHETYPE_AUC_BOUND = 0.98  # per archetype, one-vs-rest, 3-fold cross-validated
CONFIG = SimConfig(
    seed=5, start=datetime(2026, 1, 1, tzinfo=UTC), hours=12.0, launch_rate_per_day=3000
)


class _Mint:
    def __init__(self, ts: int, creator: str, creator_history: tuple[float, float]) -> None:
        self.launch_ts, self.creator = ts, creator
        self.buys = self.sells = 0
        self.creator_prior = creator_history  # (past launches, past share with a dev sell)
        self.dev_sold = False
        self.peak_vsol = 30.0


def _dataset(
    events: list[dict[str, object]], quality: dict[str, list[float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per buy: observable features, hidden quality, label, ts (buys with a full 1 h horizon)."""
    mints: dict[str, _Mint] = {}
    by_creator: dict[str, list[_Mint]] = defaultdict(list)
    rows: list[list[float]] = []
    hidden: list[list[float]] = []
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
    return np.array(rows), np.array(hidden), labels, np.array(ts_all)


def _pr_auc(x: np.ndarray, y: np.ndarray, train: np.ndarray) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x[train], y[train])
    return float(average_precision_score(y[~train], model.predict_proba(x[~train])[:, 1]))


@functools.cache
def _run() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    truth: list[dict[str, object]] = []
    events = list(simulate(CONFIG, truth.append))
    return events, truth


def learnability() -> dict[str, float]:
    """Base rate, observable-only and oracle PR-AUC on the later 40% of buys (past -> future)."""
    events, truth = _run()
    hidden = {
        str(t["mint"]): [float(t["quality_z"]), math.log1p(float(t["attention"])),  # type: ignore[arg-type]
                         float(bool(t["rug_planned"]))]
        for t in truth if t["kind"] == "token"
    }  # fmt: skip
    x, z, y, ts = _dataset(events, hidden)
    full = ts < CONFIG.end_ms - HOUR_MS  # only buys whose 1 h horizon lies inside the run
    x, z, y, ts = x[full], z[full], y[full], ts[full]
    train = ts < np.quantile(ts, 0.6)
    return {
        "base_rate_all": float(y.mean()),
        "base_rate_test": float(y[~train].mean()),
        "observable": _pr_auc(x, y, train),
        "oracle": _pr_auc(np.hstack([x, z]), y, train),
    }


def archetype_aucs() -> dict[str, float]:
    """Per archetype: how well per-wallet behaviour (trade counts, ticket sizes, entry slot
    after creation, holding time, tokens per buy) recovers it, cross-validated ROC-AUC."""
    events, truth = _run()
    archetype = {str(t["wallet"]): str(t["archetype"]) for t in truth if t["kind"] == "wallet"}
    x, kinds = _wallet_behaviour(events, archetype)
    out = {}
    for kind in sorted(set(kinds)):
        target = (kinds == kind).astype(int)
        if target.sum() < 10:
            continue
        model = HistGradientBoostingClassifier(max_iter=100, random_state=0)
        p = cross_val_predict(model, x, target, cv=3, method="predict_proba")[:, 1]
        out[kind] = float(roc_auc_score(target, p))
    return out


def _wallet_behaviour(
    events: list[dict[str, object]], archetype: dict[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    genesis_slot: dict[str, int] = {}
    stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    opened: dict[tuple[str, str], int] = {}
    for ev in events:
        mint, ts = str(ev["mint"]), int(ev["ts"])  # type: ignore[call-overload]
        if ev["type"] == "token_genesis":
            genesis_slot[mint] = int(ev["slot"])  # type: ignore[call-overload]
            continue
        if ev["type"] == "token_migrated":  # not a wallet's trade
            continue
        wallet = str(ev["wallet"])
        f = stats[wallet]
        if ev["type"] == "wallet_buy":
            f["size"].append(math.log(float(ev["sol_amount"])))  # type: ignore[arg-type]
            f["lag"].append(int(ev["slot"]) - genesis_slot[mint])  # type: ignore[call-overload]
            f["mint"].append(hash(mint))
            opened.setdefault((wallet, mint), ts)
        else:
            f["sells"].append(1.0)
            start = opened.pop((wallet, mint), None)
            if start is not None:
                f["hold"].append(math.log1p((ts - start) / 1000.0))
    rows, kinds = [], []
    for wallet, f in stats.items():
        if wallet not in archetype or not f["size"]:
            continue
        lag = np.array(f["lag"])
        rows.append(
            [
                math.log1p(len(f["size"])),
                math.log1p(len(f["sells"])),
                float(np.mean(f["size"])),
                float(np.std(f["size"])),
                float(np.mean(lag == 0)),
                float(np.mean((lag >= 1) & (lag <= 3))),
                math.log1p(float(np.median(lag))),
                float(np.mean(f["hold"])) if f["hold"] else math.nan,
                len(set(f["mint"])) / len(f["size"]),
            ]
        )
        kinds.append(archetype[wallet])
    return np.array(rows), np.array(kinds)


@pytest.mark.slow
def test_observables_beat_the_base_rate_and_stay_well_below_the_oracle() -> None:
    got = learnability()
    assert 0.03 <= got["base_rate_all"] <= 0.2, "reach_2x_1h base rate out of the intended range"
    assert got["observable"] > got["base_rate_test"] + 0.08, got
    assert got["oracle"] > got["observable"] + ORACLE_MARGIN, got


@pytest.mark.slow
def test_no_wallet_archetype_is_recoverable_from_behaviour() -> None:
    aucs = archetype_aucs()
    assert {"retail", "smart", "cabal", "copy_trader"} <= set(aucs)
    assert max(aucs.values()) <= ARCHETYPE_AUC_BOUND, aucs


if __name__ == "__main__":  # the README line, from the functions the tests assert on
    got, aucs = learnability(), archetype_aucs()
    print(
        f"observable-only logistic regression PR-AUC {got['observable']:.3f} against a test base "
        f"rate of {got['base_rate_test']:.3f}; with the hidden truth (oracle) {got['oracle']:.3f} "
        f"(margin {got['oracle'] - got['observable']:.3f}, required >= {ORACLE_MARGIN}); "
        "archetype ROC-AUC from wallet behaviour: "
        + ", ".join(f"{k} {v:.3f}" for k, v in sorted(aucs.items()))
        + f" (bound {ARCHETYPE_AUC_BOUND})"
    )
