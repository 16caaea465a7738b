"""Seeded, schema-valid signals and outcomes for store tests, docs checks and the insert bench."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from streams.events import TARGETS, Outcome, Signal
from streams.store.rows import SCHEMA_VERSION

BASE_TS_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Dataset:
    signals: list[Signal]
    outcomes: list[Outcome]  # both stages (1h then 24h) for every resolved signal


def make_dataset(
    n_signals: int,
    seed: int = 7,
    n_features: int = 5,
    feature_set: str = "test-v1",
    resolved_share: float = 0.8,
) -> Dataset:
    """``n_signals`` signals over a few hours: one genesis per mint, the rest buys by a pool of wallets."""
    rng = random.Random(seed)
    n_mints = max(1, n_signals // 8)
    wallets = [f"W{i:04d}" for i in range(max(2, n_signals // 5))]
    creators = [f"C{i:03d}" for i in range(max(1, n_mints // 3))]
    signals: list[Signal] = []
    outcomes: list[Outcome] = []
    for i in range(n_signals):
        mint_no = i % n_mints
        genesis = i < n_mints
        ts = BASE_TS_MS + (0 if genesis else rng.randrange(1, 6 * HOUR_MS)) + mint_no * 1000
        signal = _signal(rng, i, mint_no, genesis, ts, rng.choice(wallets), creators[mint_no % len(creators)],
                         n_features, feature_set)  # fmt: skip
        signals.append(signal)
        if rng.random() < resolved_share:
            outcomes.extend(_outcomes(rng, signal))
    return Dataset(signals, outcomes)


def _signal(
    rng: random.Random, i: int, mint_no: int, genesis: bool, ts: int, wallet: str, creator: str,
    n_features: int, feature_set: str,
) -> Signal:  # fmt: skip
    modelled = rng.random() < 0.9
    raw = {t: round(rng.random(), 4) if modelled else None for t in TARGETS}
    calibrated = {
        t: None if v is None else round(min(1.0, v * 0.9 + 0.05), 4) for t, v in raw.items()
    }
    features: list[float | None] = [
        None if rng.random() < 0.1 else round(rng.gauss(0, 1), 4) for _ in range(n_features)
    ]
    return Signal(
        schema_version=SCHEMA_VERSION, type="signal", event_id=f"sig-{i:06d}", ts=ts,
        mint=f"M{mint_no:05d}", source_event_id=f"in-{i:06d}", kind="genesis" if genesis else "buy",
        wallet=None if genesis else wallet, creator=creator,
        scored_at=ts + rng.randrange(1, 400), price=round(rng.uniform(1e-8, 1e-6), 12),
        scores=calibrated, rule_score=round(rng.random(), 4), source="model" if modelled else "rule",
        models={t: f"{'genesis' if genesis else 'standard'}__{t}@v{1 + i % 2}" for t in TARGETS} if modelled else {},
        percentile_1h=round(rng.random(), 4) if modelled else None, feature_set=feature_set,
        features=features, raw_scores=raw,
    )  # fmt: skip


def _outcomes(rng: random.Random, s: Signal) -> list[Outcome]:
    peaks = sorted(round(rng.lognormvariate(0.0, 0.8), 4) for _ in range(5))
    min_1h = round(min(1.0, rng.uniform(0.05, 1.0)), 4)
    labels = {
        "reach_2x_1h": peaks[2] >= 2.0,
        "reach_3x_30m": peaks[1] >= 3.0,
        "reach_2x_10m": peaks[0] >= 2.0,
        "is_dead_soon": min_1h < 0.2,
    }
    common: dict[str, Any] = dict(
        schema_version=SCHEMA_VERSION, type="outcome", mint=s.mint, signal_event_id=s.event_id,
        kind=s.kind, wallet=s.wallet, creator=s.creator, signal_ts=s.ts, price=s.price,
        peak_10m=peaks[0], peak_30m=peaks[1], peak_1h=peaks[2], min_1h=min_1h, labels=labels,
    )  # fmt: skip
    first = Outcome(
        event_id=f"{s.event_id}:o1h",
        ts=s.ts + HOUR_MS,
        stage="1h",
        peak_4h=None,
        peak_24h=None,
        **common,
    )
    final = Outcome(
        event_id=f"{s.event_id}:o24h",
        ts=s.ts + 24 * HOUR_MS,
        stage="24h",
        peak_4h=peaks[3],
        peak_24h=peaks[4],
        **common,
    )
    return [first, final]
