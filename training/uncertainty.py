"""How sure the test-slice numbers are: token-clustered bootstrap intervals and slice-size checks.

Buys of one token share its fate, so rows are not independent draws: a slice of 16,000 rows
from 500 tokens carries far less evidence than its row count says. Every interval here resamples
whole tokens (with replacement) and recomputes the metric on the rows of the drawn tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from streams.metrics import (
    expected_calibration_error,
    pr_auc,
    reliability,
    reliability_slope,
    top_decile_lift,
)

BOOTSTRAP_RESAMPLES = 200
CONFIDENCE = 0.95
# Below these a test slice is reported with a warning: its intervals are wide enough that the
# point values say little (the quality gate refuses outright below 20 tokens / 5 positives).
MIN_TEST_TOKENS = 300
MIN_TEST_POSITIVE_TOKENS = 30

Statistic = Callable[[np.ndarray, np.ndarray, np.ndarray], float]  # (scores, y, groups) -> value


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}

    def text(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def token_weights(groups: np.ndarray) -> np.ndarray:
    """1 / (rows of the row's token): every token counts once, however many buys it had."""
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse.reshape(-1)]


def _pr_auc(s: np.ndarray, y: np.ndarray, g: np.ndarray) -> float:
    return pr_auc(s, y)


def _pr_auc_token_weighted(s: np.ndarray, y: np.ndarray, g: np.ndarray) -> float:
    return pr_auc(s, y, token_weights(g))


def _lift(s: np.ndarray, y: np.ndarray, g: np.ndarray) -> float:
    return top_decile_lift(s, y)


def _ece(s: np.ndarray, y: np.ndarray, g: np.ndarray) -> float:
    return expected_calibration_error(s, y)


def _slope(s: np.ndarray, y: np.ndarray, g: np.ndarray) -> float:
    return reliability_slope(s, y)


RANKING_STATISTICS: dict[str, Statistic] = {
    "pr_auc": _pr_auc,
    "pr_auc_token_weighted": _pr_auc_token_weighted,
    "top_decile_lift": _lift,
}
CALIBRATION_STATISTICS: dict[str, Statistic] = {"ece": _ece, "reliability_slope": _slope}


def cluster_bootstrap(
    scores: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    statistics: Mapping[str, Statistic],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, Interval]:
    """Point value and percentile interval of each statistic, resampling whole groups."""
    s, t = np.asarray(scores, dtype=np.float64), np.asarray(y, dtype=np.float64)
    codes = np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1)
    n_groups = int(codes.max()) + 1 if codes.size else 0
    members = np.split(np.argsort(codes, kind="stable"), np.cumsum(np.bincount(codes))[:-1])
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in statistics}
    for _ in range(resamples if n_groups > 1 else 0):
        picked = rng.integers(0, n_groups, n_groups)
        rows = np.concatenate([members[i] for i in picked])
        new_groups = np.repeat(np.arange(n_groups), [len(members[i]) for i in picked])
        for name, stat in statistics.items():
            draws[name].append(stat(s[rows], t[rows], new_groups))
    tail = (1.0 - CONFIDENCE) / 2.0 * 100.0
    out: dict[str, Interval] = {}
    for name, stat in statistics.items():
        values = np.asarray(draws[name], dtype=np.float64)
        values = values[np.isfinite(values)]
        low, high = (
            (float(np.percentile(values, tail)), float(np.percentile(values, 100.0 - tail)))
            if values.size
            else (float("nan"), float("nan"))
        )
        out[name] = Interval(stat(s, t, codes), low, high)
    return out


def slice_warnings(y: np.ndarray, groups: np.ndarray, name: str = "test") -> list[str]:
    """Why a slice's numbers are too thin to lean on (empty when it meets the stated minimums)."""
    labels = np.asarray(y, dtype=np.float64)
    g = np.asarray(groups)
    tokens = len(np.unique(g))
    positive_tokens = len(np.unique(g[labels > 0.5]))
    found = []
    if tokens < MIN_TEST_TOKENS:
        found.append(f"{name} slice has {tokens} tokens (< {MIN_TEST_TOKENS}): wide intervals")
    if positive_tokens < MIN_TEST_POSITIVE_TOKENS:
        found.append(
            f"{name} slice has positives on {positive_tokens} tokens "
            f"(< {MIN_TEST_POSITIVE_TOKENS}): PR-AUC and lift rest on a handful of tokens"
        )
    return found


def curve_shape(slope: Interval) -> str:
    """Whether the reliability curve is too flat or too steep, judged by the slope's interval."""
    if not np.isfinite(slope.value):
        return "undetermined (predictions do not vary across bins)"
    if np.isfinite(slope.low) and slope.low > 1.0:
        return f"too flat: observed rises {slope.value:.2f}x as fast as predicted"
    if np.isfinite(slope.high) and slope.high < 1.0:
        return f"too steep: observed rises only {slope.value:.2f}x as fast as predicted"
    return f"consistent with the diagonal (slope {slope.value:.2f}, interval contains 1)"


ECE_GOAL = 0.02  # calibrated ECE on the test slice the project aims for
TOP_TOKENS = 10


def concentration(y: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """How few tokens carry the slice: the largest token's share of the rows and of the
    positives, and the share of the positives held by the ``TOP_TOKENS`` tokens with most."""
    labels, g = np.asarray(y, dtype=np.float64), np.asarray(groups)
    _, codes = np.unique(g, return_inverse=True)
    rows = np.bincount(codes.reshape(-1))
    positives = np.sort(np.bincount(codes.reshape(-1), weights=labels > 0.5))[::-1]
    total = float(positives.sum())
    return {
        "largest_token_row_share": float(rows.max() / rows.sum()) if rows.size else 0.0,
        "largest_token_positive_share": float(positives[0] / total) if total else 0.0,
        "top_tokens_positive_share": float(positives[:TOP_TOKENS].sum() / total) if total else 0.0,
        "top_tokens": float(TOP_TOKENS),
    }


@dataclass(frozen=True)
class SliceAssessment:
    """The test slice's numbers with their token-bootstrap intervals and size warnings."""

    tokens: int
    positive_tokens: int
    intervals: dict[str, Interval]
    curve_shape: str
    warnings: tuple[str, ...]
    ece_noise: float  # what a perfectly calibrated model would show on these bins, rows independent
    concentration: dict[str, float]

    @property
    def ece_goal_met(self) -> bool:
        return self.intervals["ece"].value <= ECE_GOAL

    def as_dict(self) -> dict[str, object]:
        return {
            "tokens": self.tokens,
            "positive_tokens": self.positive_tokens,
            "confidence": CONFIDENCE,
            "resamples": BOOTSTRAP_RESAMPLES,
            "intervals": {k: v.as_dict() for k, v in self.intervals.items()},
            "reliability_curve": self.curve_shape,
            "ece_goal": ECE_GOAL,
            "ece_goal_met": self.ece_goal_met,
            "ece_noise": self.ece_noise,
            "concentration": dict(self.concentration),
            "minimums": {"tokens": MIN_TEST_TOKENS, "positive_tokens": MIN_TEST_POSITIVE_TOKENS},
            "warnings": list(self.warnings),
        }


def assess_slice(
    calibrated: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0
) -> SliceAssessment:
    """Intervals for PR-AUC (row- and token-weighted), top-decile lift, ECE and the curve slope."""
    g = np.asarray(groups)
    labels = np.asarray(y, dtype=np.float64)
    intervals = cluster_bootstrap(
        calibrated, labels, g, {**RANKING_STATISTICS, **CALIBRATION_STATISTICS}, seed=seed
    )
    return SliceAssessment(
        tokens=len(np.unique(g)),
        positive_tokens=len(np.unique(g[labels > 0.5])),
        intervals=intervals,
        curve_shape=curve_shape(intervals["reliability_slope"]),
        warnings=tuple(slice_warnings(labels, g)),
        ece_noise=reliability(calibrated, labels).ece_noise,
        concentration=concentration(labels, g),
    )
