"""Score and signal events built for a whole batch at once hold, row by row, what the contract
says: missing or infinite features as null, scores per target, the rule score clipped to [0, 1]
(NaN as 0), a negative or non-finite price as 0."""

from __future__ import annotations

import math

import numpy as np
import orjson

from streams.app.outputs import build_events
from streams.events import encode
from streams.features.engine import SignalRow
from streams.scoring.scorer import BatchScores


def test_batch_built_events_hold_each_rows_values() -> None:
    rng = np.random.default_rng(3)
    n = 50
    features = rng.random((n, 68)).astype(np.float32)
    features[features < 0.2] = np.nan
    features[0, 5], features[1, 6] = np.inf, -np.inf
    prices = [float("nan"), -1.0, *rng.random(n - 2).tolist()]
    rows = [SignalRow("buy", f"e{i}", 1_000 + i, f"M{i % 4}", "W", None, prices[i], features[i])
            for i in range(n)]  # fmt: skip
    calibrated = rng.random(n).astype(np.float32)
    rule = rng.random(n) * 1.4 - 0.2
    rule[2] = np.nan
    batch = BatchScores(raw={"reach_2x_1h": calibrated * 2, "is_dead_soon": None},
                        calibrated={"reach_2x_1h": calibrated, "is_dead_soon": None}, rule=rule,
                        source="model", models={"reach_2x_1h": "m@1"})  # fmt: skip
    percentiles = [None if i % 3 == 0 else 0.5 for i in range(n)]
    events = build_events(rows, batch, percentiles, 77, "fs")
    assert len(events) == n
    for i, (score, signal) in enumerate(events):
        wire = orjson.loads(encode(signal))
        expected = [float(v) if math.isfinite(v) else None for v in features[i].tolist()]
        assert signal.features == expected == wire["features"]
        assert score.scores == {"reach_2x_1h": float(calibrated[i]), "is_dead_soon": None}
        assert signal.raw_scores["reach_2x_1h"] == float(calibrated[i] * 2)
        assert score.rule_score == (0.0 if i == 2 else min(1.0, max(0.0, float(rule[i]))))
        assert score.price == (prices[i] if i >= 2 else 0.0)
        assert score.percentile_1h == percentiles[i] and score.event_id == f"e{i}:s"
        assert (score.mint, score.ts, score.scored_at) == (f"M{i % 4}", 1_000 + i, 77)
    assert build_events([], batch, [], 0, "fs") == []
