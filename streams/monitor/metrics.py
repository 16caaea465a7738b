"""Pure drift/quality metrics for one model over one window of scored signals. No I/O, no clock.

Inputs are plain arrays: calibrated probabilities, labels (1.0 / 0.0 / NaN = not resolved yet),
signal timestamps, label resolution timestamps and feature values. Label metrics use only the
resolved rows; distribution metrics (PSI) use every scored row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from sklearn.metrics import average_precision_score

PSI_FLOOR = 1e-4  # bin shares below this are floored so an empty bin does not give an infinite PSI


class BinnedDistribution(Protocol):
    """Quantile bins of a training-time distribution (``training.metadata.ReferenceDistribution``).

    ``fractions`` has ``len(edges) + 1`` entries for (-inf, e0], (e0, e1], ..., (e_last, inf) over
    the non-missing values; ``missing_rate`` is the share of NaN values.
    """

    @property
    def edges(self) -> tuple[float, ...]: ...

    @property
    def fractions(self) -> tuple[float, ...]: ...

    @property
    def missing_rate(self) -> float: ...


@dataclass(frozen=True)
class Bins:
    """A concrete ``BinnedDistribution`` (tests, offline references)."""

    edges: tuple[float, ...]
    fractions: tuple[float, ...]
    missing_rate: float = 0.0


@dataclass(frozen=True)
class ModelReference:
    """What the model looked like on its test slice: the yardstick for drift."""

    score: BinnedDistribution | None = None
    features: Mapping[str, BinnedDistribution] = field(default_factory=dict)
    expected_top_decile_hit_rate: float | None = None
    top_decile_threshold: float | None = None  # None: the 90th percentile of ``score``
    base_rate: float | None = None
    pr_auc: float | None = None

    def top_decile_cut(self) -> float | None:
        if self.top_decile_threshold is not None:
            return self.top_decile_threshold
        return quantile_of(self.score, 0.9) if self.score is not None else None


@dataclass(frozen=True)
class MetricsConfig:
    ece_bins: int = 10
    min_resolved_for_calibration: int = 100
    min_resolved_for_pr_auc: int = 200
    min_positives_for_pr_auc: int = 5
    min_signals_for_psi: int = 100
    top_decile_last_n: int = 200
    wilson_z: float = 1.96  # two-sided 95%


@dataclass(frozen=True)
class MonitorInputs:
    scores: np.ndarray  # calibrated probability per signal
    labels: np.ndarray  # 1.0 / 0.0 / NaN (unresolved)
    ts: np.ndarray  # signal time, epoch ms
    resolved_ts: np.ndarray  # label resolution time, epoch ms (NaN when unresolved)
    features: Mapping[str, np.ndarray] = field(default_factory=dict)
    # Cluster id per signal (the mint): buys of one token share its fate, so they are not
    # independent draws; None treats every signal as its own cluster.
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        sizes = {len(self.scores), len(self.labels), len(self.ts), len(self.resolved_ts)}
        if self.groups is not None:
            sizes.add(len(self.groups))
        sizes |= {len(v) for v in self.features.values()}
        if len(sizes) > 1:
            raise ValueError(f"monitor inputs have different lengths: {sorted(sizes)}")


@dataclass(frozen=True)
class HitRate:
    """Hits among the last ``n`` resolved top-decile signals, with a Wilson interval.

    ``n_effective`` is ``n`` divided by the design effect of same-token clustering; the interval
    uses it, so a few tokens with many buys do not look like many independent outcomes.
    """

    n: int
    hits: int
    n_effective: float
    rate: float
    low: float
    high: float
    expected: float | None
    threshold: float


@dataclass(frozen=True)
class WindowMetrics:
    signals: int
    resolved: int
    positives: int
    mean_predicted_all: float | None  # over every scored signal
    mean_predicted: float | None  # over the resolved signals only (comparable to hit_rate)
    hit_rate: float | None
    calibration_z: float | None  # (hits - expected hits) in cluster-robust standard errors
    design_effect: float | None  # variance inflation from same-token clustering (>= 1)
    ece: float | None
    ece_noise: float | None  # expected ECE of a perfectly calibrated model on the same bins
    brier: float | None
    pr_auc: float | None
    score_psi: float | None
    feature_psi: dict[str, float]
    top_decile: HitRate | None

    @property
    def ece_excess(self) -> float | None:
        if self.ece is None or self.ece_noise is None:
            return None
        return max(0.0, self.ece - self.ece_noise)

    @property
    def max_feature_psi(self) -> tuple[str, float] | None:
        if not self.feature_psi:
            return None
        name = max(self.feature_psi, key=lambda k: self.feature_psi[k])
        return name, self.feature_psi[name]


def compute_metrics(
    inputs: MonitorInputs, reference: ModelReference, config: MetricsConfig | None = None
) -> WindowMetrics:
    cfg = config or MetricsConfig()
    scores = np.asarray(inputs.scores, dtype=np.float64)
    labels = np.asarray(inputs.labels, dtype=np.float64)
    scored = ~np.isnan(scores)
    resolved = scored & ~np.isnan(labels)
    p, y = scores[resolved], labels[resolved]
    groups = _groups(inputs.groups, labels.size)
    deff = design_effect(y - p, groups[resolved]) if p.size else None
    calibrated = p.size >= cfg.min_resolved_for_calibration
    ece_value, noise = equal_frequency_ece(p, y, cfg.ece_bins) if calibrated else (None, None)
    if noise is not None and deff is not None:
        noise *= math.sqrt(deff)
    enough_for_psi = int(scored.sum()) >= cfg.min_signals_for_psi
    cut = reference.top_decile_cut()
    return WindowMetrics(
        signals=int(scored.sum()),
        resolved=int(p.size),
        positives=int(y.sum()),
        mean_predicted_all=_mean(scores[scored]),
        mean_predicted=_mean(p),
        hit_rate=_mean(y),
        calibration_z=calibration_z(p, y, deff or 1.0) if p.size else None,
        design_effect=deff,
        ece=ece_value,
        ece_noise=noise,
        brier=brier(p, y) if p.size else None,
        pr_auc=_pr_auc_if_enough(p, y, cfg),
        score_psi=(
            psi(reference.score, scores[scored])
            if enough_for_psi and reference.score is not None
            else None
        ),
        feature_psi=(
            {
                name: psi(dist, np.asarray(inputs.features[name], dtype=np.float64)[scored])
                for name, dist in reference.features.items()
                if name in inputs.features
            }
            if enough_for_psi
            else {}
        ),
        top_decile=(
            top_decile_hit_rate(
                scores,
                labels,
                np.asarray(inputs.resolved_ts, dtype=np.float64),
                groups,
                cut,
                cfg.top_decile_last_n,
                reference.expected_top_decile_hit_rate,
                cfg.wilson_z,
            )
            if cut is not None
            else None
        ),
    )


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _pr_auc_if_enough(p: np.ndarray, y: np.ndarray, cfg: MetricsConfig) -> float | None:
    positives = int(y.sum())
    if p.size < cfg.min_resolved_for_pr_auc or positives < cfg.min_positives_for_pr_auc:
        return None
    if positives == p.size:
        return 1.0
    return float(average_precision_score(y, p))


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def _groups(groups: np.ndarray | None, n: int) -> np.ndarray:
    if groups is None:
        return np.arange(n)
    return np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1)


def design_effect(values: np.ndarray, groups: np.ndarray) -> float:
    """Cluster-robust over naive variance of the mean of ``values`` (1 = independent rows).

    Values are centred first, so a systematic shift (what the monitor looks for) does not
    inflate the estimate and hide itself.
    """
    if values.size < 2:
        return 1.0
    centred = values - values.mean()
    naive = float(np.sum(centred**2))
    if naive <= 0.0:
        return 1.0
    sums = np.bincount(np.unique(groups, return_inverse=True)[1].reshape(-1), weights=centred)
    return max(1.0, float(np.sum(sums**2)) / naive)


def calibration_z(p: np.ndarray, y: np.ndarray, deff: float = 1.0) -> float | None:
    """Observed minus expected hits over their (cluster-inflated) binomial standard deviation."""
    variance = float(np.sum(p * (1.0 - p))) * deff
    if variance <= 0.0:
        return None
    return float((y.sum() - p.sum()) / math.sqrt(variance))


def equal_frequency_ece(p: np.ndarray, y: np.ndarray, n_bins: int) -> tuple[float, float]:
    """ECE over ``n_bins`` bins of (nearly) equal count, and its sampling-noise floor.

    The floor is E|mean(y) - mean(p)| per bin if the model were perfectly calibrated
    (normal approximation), weighted like the ECE: ECE below it is indistinguishable from noise.
    """
    if p.size == 0:
        return 0.0, 0.0
    order = np.argsort(p, kind="stable")
    ece_total = 0.0
    noise_total = 0.0
    for chunk in np.array_split(order, min(n_bins, p.size)):
        pb, yb = p[chunk], y[chunk]
        weight = chunk.size / p.size
        ece_total += weight * abs(float(yb.mean()) - float(pb.mean()))
        noise_total += weight * math.sqrt(2.0 / math.pi * float(np.sum(pb * (1 - pb)))) / chunk.size
    return ece_total, noise_total


def bin_shares(distribution: BinnedDistribution, values: np.ndarray) -> np.ndarray:
    """Shares of ``values`` in the reference bins, the missing share last."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    edges = np.asarray(distribution.edges, dtype=np.float64)
    # side="left": a value equal to an edge belongs to the bin that edge closes, as in training.
    index = np.searchsorted(edges, values[~missing], side="left")
    counts = np.bincount(index, minlength=edges.size + 1).astype(np.float64)
    return np.append(counts, float(missing.sum())) / max(values.size, 1)


def reference_shares(distribution: BinnedDistribution) -> np.ndarray:
    present = 1.0 - distribution.missing_rate
    shares = np.asarray(distribution.fractions, dtype=np.float64) * present
    return np.append(shares, distribution.missing_rate)


def psi(distribution: BinnedDistribution, values: np.ndarray) -> float:
    """Population stability index of ``values`` against the reference bins (missing is a bin)."""
    actual = np.clip(bin_shares(distribution, values), PSI_FLOOR, None)
    expected = np.clip(reference_shares(distribution), PSI_FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def quantile_of(distribution: BinnedDistribution, q: float) -> float | None:
    """The ``q`` quantile of a binned distribution (linear inside interior bins)."""
    edges = np.asarray(distribution.edges, dtype=np.float64)
    if edges.size == 0:
        return None
    fractions = np.asarray(distribution.fractions, dtype=np.float64)
    cumulative = np.cumsum(fractions)[: edges.size]  # cumulative[i] = P(X <= edges[i])
    i = int(np.searchsorted(cumulative, q - 1e-9, side="left"))
    if i >= edges.size:
        return float(edges[-1])  # in the open top bin: its lower edge is the best bound we have
    if i == 0 or fractions[i] <= 0.0:
        return float(edges[i])
    share = (q - cumulative[i - 1]) / fractions[i]
    return float(edges[i - 1] + min(max(share, 0.0), 1.0) * (edges[i] - edges[i - 1]))


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    return wilson_rate_interval(hits / n if n > 0 else 0.0, float(n), z)


def wilson_rate_interval(rate: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion observed over ``n`` (possibly effective) trials."""
    if n <= 0:
        return 0.0, 1.0
    denominator = 1.0 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def top_decile_hit_rate(
    scores: np.ndarray,
    labels: np.ndarray,
    resolved_ts: np.ndarray,
    groups: np.ndarray,
    threshold: float,
    last_n: int,
    expected: float | None,
    z: float = 1.96,
) -> HitRate:
    """Hit rate of the last ``last_n`` resolved signals scored at or above ``threshold``."""
    chosen = ~np.isnan(labels) & ~np.isnan(scores) & (scores >= threshold)
    order = np.argsort(np.nan_to_num(resolved_ts[chosen], nan=np.inf), kind="stable")
    keep = order[-last_n:] if last_n > 0 else order
    recent = labels[chosen][keep]
    n, hits = int(recent.size), int(recent.sum())
    n_eff = n / design_effect(recent, groups[chosen][keep]) if n else 0.0
    low, high = wilson_rate_interval(hits / n if n else 0.0, n_eff, z)
    return HitRate(
        n=n,
        hits=hits,
        n_effective=n_eff,
        rate=hits / n if n else float("nan"),
        low=low,
        high=high,
        expected=expected,
        threshold=threshold,
    )


def hit_rate_by_bin(
    scores: np.ndarray, labels: np.ndarray, edges: tuple[float, ...]
) -> list[tuple[int, float | None, float | None]]:
    """Per score bin (reference edges): (resolved count, mean predicted, realised hit rate)."""
    resolved = ~np.isnan(labels) & ~np.isnan(scores)
    p, y = scores[resolved], labels[resolved]
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), p, side="left")
    rows: list[tuple[int, float | None, float | None]] = []
    for b in range(len(edges) + 1):
        in_bin = index == b
        rows.append((int(in_bin.sum()), _mean(p[in_bin]), _mean(y[in_bin])))
    return rows
