"""Test-slice metrics, the score-decile view, and the reference distributions for drift (PSI).

Metadata ``reference`` holds ``streams.contracts.metadata.ReferenceDistribution`` values (quantile edges +
fractions + missing rate) keyed ``"score"`` for the calibrated score on the test slice and by
feature name for the top features by gain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from streams.contracts.metadata import ReferenceDistribution, reference_from_values

REFERENCE_BINS = 10
TOP_FEATURES = 10
SCORE_KEY = "score"


@dataclass(frozen=True)
class ScoreMetrics:
    pr_auc: float
    roc_auc: float
    base_rate: float
    top_decile_hit_rate: float
    top_decile_lift: float

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def score_metrics(scores: np.ndarray, y: np.ndarray) -> ScoreMetrics:
    s, t = _finite_pairs(scores, y)
    base = float(t.mean()) if len(t) else float("nan")
    both = len(np.unique(t)) == 2
    deciles = decile_table(s, t)
    top = deciles[0]["hit_rate"] if deciles else float("nan")
    return ScoreMetrics(
        pr_auc=float(average_precision_score(t, s)) if both else float("nan"),
        roc_auc=float(roc_auc_score(t, s)) if both else float("nan"),
        base_rate=base,
        top_decile_hit_rate=float(top),
        top_decile_lift=float(top / base) if base > 0 else float("nan"),
    )


def decile_table(scores: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Rows ranked by score, cut in ``bins`` equal-count groups, best first."""
    s, t = _finite_pairs(scores, y)
    if len(s) == 0:
        return []
    base = float(t.mean())
    order = np.argsort(-s, kind="stable")
    rows: list[dict[str, float]] = []
    for rank, group in enumerate(np.array_split(order, min(bins, len(order))), start=1):
        if len(group) == 0:
            continue
        hit = float(t[group].mean())
        rows.append(
            {
                "decile": float(rank),
                "rows": float(len(group)),
                "min_score": float(s[group].min()),
                "hit_rate": hit,
                "lift": hit / base if base > 0 else float("nan"),
            }
        )
    return rows


def top_features_by_gain(
    gains: np.ndarray, feature_names: Sequence[str], k: int = TOP_FEATURES
) -> list[tuple[str, float]]:
    order = np.argsort(-np.asarray(gains, dtype=np.float64), kind="stable")[:k]
    return [(feature_names[i], float(gains[i])) for i in order]


def build_reference(
    calibrated_test: np.ndarray,
    x_test: np.ndarray,
    feature_names: Sequence[str],
    gains: np.ndarray,
) -> dict[str, ReferenceDistribution]:
    """``score`` (calibrated, test slice) plus the top features by gain, keyed by feature name."""
    index = {name: i for i, name in enumerate(feature_names)}
    reference = {SCORE_KEY: reference_from_values(calibrated_test, REFERENCE_BINS)}
    for name, _ in top_features_by_gain(gains, feature_names):
        reference[name] = reference_from_values(x_test[:, index[name]], REFERENCE_BINS)
    return reference


def _finite_pairs(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(s) & np.isfinite(t)
    return s[keep], t[keep]
