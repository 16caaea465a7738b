"""One implementation of each model-quality metric, shared by training (cards) and the monitor.

Ranking metrics come from scikit-learn; the calibration metrics use one binning everywhere:
``n_bins`` groups of (nearly) equal count over the predictions sorted ascending. Pure numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

DEFAULT_BINS = 10


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of the probabilities (scikit-learn's Brier score)."""
    probs, labels = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if probs.size == 0:
        return float("nan")
    return float(brier_score_loss(labels, np.clip(probs, 0.0, 1.0)))


def pr_auc(scores: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Average precision (NaN without both classes); ``weights`` per row, e.g. 1/rows of its token."""
    labels = np.asarray(y, dtype=np.float64)
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(average_precision_score(labels, scores, sample_weight=weights))


def roc_auc(scores: np.ndarray, y: np.ndarray) -> float:
    labels = np.asarray(y, dtype=np.float64)
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def top_decile_lift(scores: np.ndarray, y: np.ndarray) -> float:
    """Hit rate of the best-scored 10% of rows over the base rate (ties broken by row order)."""
    s, labels = np.asarray(scores, dtype=np.float64), np.asarray(y, dtype=np.float64)
    base = float(labels.mean()) if labels.size else 0.0
    if base <= 0.0:
        return float("nan")
    top = np.argsort(-s, kind="stable")[: max(1, labels.size // 10)]
    return float(labels[top].mean()) / base


def equal_frequency_bins(p: np.ndarray, n_bins: int = DEFAULT_BINS) -> list[np.ndarray]:
    """Row positions per bin: predictions sorted ascending, cut into equal-count groups."""
    order = np.argsort(np.asarray(p, dtype=np.float64), kind="stable")
    return [g for g in np.array_split(order, min(n_bins, max(len(order), 1))) if len(g)]


@dataclass(frozen=True)
class Reliability:
    """Per equal-frequency bin: mean predicted vs observed rate; the expected calibration error
    and its noise floor (what a perfectly calibrated model would show on the same bins)."""

    mean_predicted: np.ndarray
    observed_rate: np.ndarray
    counts: np.ndarray
    ece: float
    ece_noise: float


def reliability(p: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> Reliability:
    probs, labels = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    groups = equal_frequency_bins(probs, bins)
    if not groups:
        empty = np.zeros(0)
        return Reliability(empty, empty, np.zeros(0, dtype=np.int64), 0.0, 0.0)
    mean_predicted = np.array([probs[g].mean() for g in groups])
    observed = np.array([labels[g].mean() for g in groups])
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    weights = counts / counts.sum()
    ece = float(np.sum(weights * np.abs(mean_predicted - observed)))
    # E|mean(y) - mean(p)| per bin under perfect calibration (normal approximation).
    spread = np.array([math.sqrt(float(np.sum(probs[g] * (1 - probs[g])))) for g in groups])
    noise = float(np.sum(weights * math.sqrt(2.0 / math.pi) * spread / counts))
    return Reliability(mean_predicted, observed, counts, ece, noise)


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    return reliability(p, y, bins).ece


def reliability_slope(p: np.ndarray, y: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """Slope of observed rate on mean prediction across the bins (count-weighted least squares).

    1 is calibrated in shape; above 1 the predictions are too flat (observed rates spread wider
    than predicted), below 1 too steep. NaN when the bins' predictions do not vary.
    """
    rel = reliability(p, y, bins)
    if rel.counts.size < 2:
        return float("nan")
    w = rel.counts / rel.counts.sum()
    x_mean = float(np.sum(w * rel.mean_predicted))
    y_mean = float(np.sum(w * rel.observed_rate))
    dx = rel.mean_predicted - x_mean
    var = float(np.sum(w * dx * dx))
    if var <= 1e-15:
        return float("nan")
    return float(np.sum(w * dx * (rel.observed_rate - y_mean)) / var)
