"""A seeded synthetic training frame in the common shape (for tests and dry runs).

Tokens have a hidden quality; some features see it through noise, some are pure noise and some
are NaN-heavy, as engineered features are. Labels depend on the hidden quality, so an oracle that
sees it does better than a model that sees only the features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from streams.contracts.events import TARGETS
from training.frame import LABEL_HORIZON_MS

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class SyntheticData:
    frame: pd.DataFrame
    feature_names: tuple[str, ...]
    truth: list[dict[str, object]]  # per token: mint + hidden quality


def synthetic_frame(
    rows: int = 3000,
    features: int = 12,
    seed: int = 0,
    span_hours: float = 72.0,
    tokens: int = 400,
    feature_names: Sequence[str] | None = None,
) -> SyntheticData:
    """``feature_names`` (e.g. the registry's) replaces the default ``f00..`` names."""
    rng = np.random.default_rng(seed)
    names = tuple(feature_names or (f"f{i:02d}" for i in range(features)))
    features = len(names)
    quality = rng.normal(size=tokens)
    token = rng.integers(0, tokens, size=rows)
    ts = np.sort(START_MS + rng.integers(0, int(span_hours * LABEL_HORIZON_MS), size=rows))
    x = rng.normal(size=(rows, features))
    informative = max(1, features // 3)
    weights = np.linspace(1.0, 0.3, informative)
    x[:, :informative] = quality[token, None] * weights + rng.normal(size=(rows, informative))
    sparse = x[:, -1]
    sparse[rng.random(rows) < 0.7] = np.nan  # a legitimately NaN-heavy feature
    frame = pd.DataFrame(x, columns=list(names))
    frame.insert(0, "event_id", [f"ev-{i:07d}" for i in range(rows)])
    frame.insert(1, "ts", ts.astype(np.int64))
    frame.insert(2, "mint", [f"mint{t:05d}" for t in token])
    frame.insert(3, "wallet", [f"w{v:04d}" for v in rng.integers(0, 500, size=rows)])
    frame.insert(4, "price", rng.lognormal(-20, 1, size=rows))
    signal = 1.6 * quality[token] + 0.4 * np.nan_to_num(x[:, 0])
    offsets = {
        "reach_2x_1h": -1.5,
        "reach_3x_30m": -2.5,
        "reach_2x_10m": -2.2,
        "is_dead_soon": -0.5,
    }
    for label in TARGETS:
        sign = -1.0 if label == "is_dead_soon" else 1.0
        p = 1.0 / (1.0 + np.exp(-(offsets[label] + sign * signal)))
        frame[label] = pd.array((rng.random(rows) < p).astype(np.int8), dtype="Int8")
    resolved = ts + LABEL_HORIZON_MS
    unresolved = resolved > ts.max()  # the newest hour has not resolved yet
    for label in TARGETS:
        frame.loc[unresolved, label] = pd.NA
    frame["label_resolved_ts"] = pd.array(np.where(unresolved, 0, resolved), dtype="Int64")
    frame.loc[unresolved, "label_resolved_ts"] = pd.NA
    truth = [{"mint": f"mint{t:05d}", "quality": float(quality[t])} for t in range(tokens)]
    return SyntheticData(frame=frame, feature_names=names, truth=truth)
