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


def features_for_json(features: np.ndarray) -> list[list[float | None]]:
    """Feature rows (a 2-D array) as JSON values: NaN (missing) and infinities become null.
    Converted for the whole batch at once (one C pass instead of a Python test per value)."""
    values = features.astype(object)
    values[~np.isfinite(features)] = None
    rows: list[list[float | None]] = values.tolist()
    return rows


def _columns(arrays: dict[str, np.ndarray | None]) -> list[tuple[str, list[float] | None]]:
    return [(t, None if a is None else a.tolist()) for t, a in arrays.items()]


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
    features: np.ndarray | None = None,
) -> list[tuple[Score, Signal]]:
    """One (score, signal) pair per row; rows and batch are aligned by index. ``features`` is
    the rows' feature matrix when the caller stacked it already."""
    if not rows:
        return []
    matrix = np.vstack([row.features for row in rows]) if features is None else features
    rows_json = features_for_json(matrix)
    calibrated, raw = _columns(batch.calibrated), _columns(batch.raw)
    rule = np.clip(batch.rule.astype(float), 0.0, 1.0)  # a missing rule score is published as 0
    rules = np.where(np.isnan(rule), 0.0, rule).tolist()
    models = dict(batch.models)  # one copy per batch, shared read-only by its events
    out: list[tuple[Score, Signal]] = []
    for i, row in enumerate(rows):
        price = float(row.price)
        common: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "ts": int(row.ts),
            "mint": row.mint,
            "source_event_id": row.event_id,
            "kind": row.kind,
            "wallet": row.wallet,
            "creator": row.creator,
            "scored_at": scored_at_ms,
            "price": price if math.isfinite(price) and price >= 0 else 0.0,
            "scores": {t: (None if c is None else c[i]) for t, c in calibrated},
            "rule_score": rules[i],
            "source": batch.source,
            "models": models,
            "percentile_1h": percentiles[i],
            "feature_set": feature_set,
        }
        score = Score(type="score", event_id=score_event_id(row.event_id), **common)
        signal = Signal(
            type="signal",
            event_id=signal_event_id(row.event_id),
            **common,
            features=rows_json[i],
            raw_scores={t: (None if c is None else c[i]) for t, c in raw},
        )
        out.append((score, signal))
    return out
