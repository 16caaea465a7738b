"""Turn engine signal rows + batch scores into the published ``score`` / ``signal`` events (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from streams.contracts.events import SCHEMA_VERSION, Score, Signal
from streams.scoring import BatchScores

HEADLINE_TARGET = "reach_2x_1h"


class SignalRowLike(Protocol):
    """What the app reads from a ``streams.features`` SignalRow."""

    kind: str
    event_id: str
    ts: int
    mint: str
    wallet: str | None
    creator: str | None
    price: float
    features: np.ndarray


def score_event_id(source_event_id: str) -> str:
    return f"{source_event_id}:s"


def signal_event_id(source_event_id: str) -> str:
    return f"{source_event_id}:f"


def features_for_json(features: np.ndarray) -> list[float | None]:
    """Feature vector as JSON values: NaN (missing) and infinities become null."""
    return [float(v) if math.isfinite(v) else None for v in features.tolist()]


def headline_scores(batch: BatchScores) -> np.ndarray:
    """Calibrated reach_2x_1h where a model serves it, else the rule score."""
    calibrated = batch.calibrated.get(HEADLINE_TARGET)
    return batch.rule if calibrated is None else calibrated


def build_events(
    rows: Sequence[SignalRowLike],
    batch: BatchScores,
    percentiles: Sequence[float | None],
    scored_at_ms: int,
    feature_set: str,
) -> list[tuple[Score, Signal]]:
    """One (score, signal) pair per row; rows and batch are aligned by index."""
    out: list[tuple[Score, Signal]] = []
    for i, row in enumerate(rows):
        common: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "ts": int(row.ts),
            "mint": row.mint,
            "source_event_id": row.event_id,
            "kind": row.kind,
            "wallet": row.wallet,
            "creator": row.creator,
            "scored_at": scored_at_ms,
            "price": float(row.price) if math.isfinite(row.price) and row.price >= 0 else 0.0,
            "scores": batch.row_calibrated(i),
            "rule_score": min(1.0, max(0.0, float(batch.rule[i]))),
            "source": batch.source,
            "models": dict(batch.models),
            "percentile_1h": percentiles[i],
            "feature_set": feature_set,
        }
        score = Score(type="score", event_id=score_event_id(row.event_id), **common)
        signal = Signal(
            type="signal",
            event_id=signal_event_id(row.event_id),
            **common,
            features=features_for_json(row.features),
            raw_scores=batch.row_raw(i),
        )
        out.append((score, signal))
    return out
