"""Pure drift/quality metrics for one model over one window of scored signals. No I/O, no clock.

Inputs are plain arrays: calibrated probabilities, labels (1.0 / 0.0 / NaN = not resolved yet),
signal timestamps, label resolution timestamps and feature values. Label metrics use only the
resolved rows; distribution metrics (PSI) use every scored row.

Every comparison with the training reference carries the sampling error of both sides: the
window's (same-token clustering divided out) and the reference's (a finite test slice of
``ModelReference.sample_size`` rows, clustered like the window).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from scipy.stats import chi2
from sklearn.metrics import average_precision_score

from streams.metrics import brier, reliability

PSI_FLOOR = 1e-4  # bin shares below this are floored so an empty bin does not give an infinite PSI


class BinnedDistribution(Protocol):
    """Quantile bins of a training-time distribution (``streams.contracts.metadata.ReferenceDistribution``).

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
    # Rows of the test slice the bins and expectations were measured on (None: treat as exact).
    sample_size: int | None = None
    # A veto model (e.g. is_dead_soon) guards against an event: missing it costs more than a
    # false alarm, so under-predicting its event is judged more strictly (see verdict.py).
    veto: bool = False

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
    pr_auc_bootstrap: int = 200  # token-cluster bootstrap resamples for the PR-AUC standard error
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
    # Effective n behind ``expected`` (test-slice top decile over the same design effect);
    # None when the reference size is unknown (the expectation is then taken as exact).
    expected_n_effective: float | None = None


@dataclass(frozen=True)
class PsiTest:
    """How much of a PSI is sampling noise, with both samples' clustering counted.

    ``noise``: the PSI two samples of one distribution would show at these effective sizes
    (its positive bias, about (bins - 1) * (1 / n_window + 1 / n_reference)); ``p_value``: the
    two-sample chi-square homogeneity test on the same bins at the same effective sizes
    (Rao-Scott: counts divided by the mean design effect of the bin indicators).
    """

    noise: float
    p_value: float
    n_effective: float
    reference_n_effective: float | None


@dataclass(frozen=True)
class MissingShift:
    """Change of one feature's missing share (e.g. no creator history yet) against the reference.

    ``z`` is the two-proportion z with both sides' sampling error, inflated by the same-token
    design effect of the missing indicator (missingness is per token or creator, not per buy).
    """

    rate: float
    reference_rate: float
    design_effect: float
    z: float | None

    @property
    def change(self) -> float:
        return self.rate - self.reference_rate


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
    score_psi: float | None  # over the reference bins; features: over their non-missing values
    feature_psi: dict[str, float]
    top_decile: HitRate | None
    score_psi_test: PsiTest | None = None
    feature_psi_test: dict[str, PsiTest] = field(default_factory=dict)
    missing_shift: dict[str, MissingShift] = field(default_factory=dict)
    # PR-AUC with negatives re-weighted to the reference base rate (PR-AUC moves with prevalence)
    pr_auc_at_reference_rate: float | None = None
    # Its standard error: token-cluster bootstrap of the window, plus the test slice's share
    # (same clustering, ``sample_size`` rows) when the reference size is known.
    pr_auc_se: float | None = None

    @property
    def score_psi_excess(self) -> float | None:
        """Score PSI above its noise floor (the PSI itself when no test was made)."""
        if self.score_psi is None:
            return None
        return _above_noise(self.score_psi, self.score_psi_test)

    @property
    def feature_psi_excess(self) -> dict[str, float]:
        return {
            k: _above_noise(v, self.feature_psi_test.get(k)) for k, v in self.feature_psi.items()
        }

    @property
    def ece_excess(self) -> float | None:
        if self.ece is None or self.ece_noise is None:
            return None
        return max(0.0, self.ece - self.ece_noise)

    @property
    def max_feature_psi(self) -> tuple[str, float] | None:
        """The feature with the largest PSI above its noise floor, and that excess."""
        excess = self.feature_psi_excess
        if not excess:
            return None
        name = max(excess, key=lambda k: excess[k])
        return name, excess[name]


def _above_noise(value: float, test: PsiTest | None) -> float:
    return max(0.0, value - test.noise) if test is not None else value


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
    score_shift = (
        psi_with_noise(reference.score, scores[scored], groups[scored], reference.sample_size)
        if enough_for_psi and reference.score is not None
        else None
    )
    features = _feature_shifts(inputs, reference, scored, groups, cfg) if enough_for_psi else {}
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
        score_psi=score_shift[0] if score_shift else None,
        score_psi_test=score_shift[1] if score_shift else None,
        feature_psi={k: v[0] for k, (v, _) in features.items() if v is not None},
        feature_psi_test={k: v[1] for k, (v, _) in features.items() if v is not None},
        missing_shift={k: m for k, (_, m) in features.items()},
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
                _top_decile_reference_rows(reference.sample_size),
            )
            if cut is not None
            else None
        ),
        pr_auc_at_reference_rate=(
            _pr_auc_if_enough(p, y, cfg, reference.base_rate)
            if reference.base_rate is not None
            else None
        ),
        pr_auc_se=(
            pr_auc_standard_error(
                p,
                y,
                groups[resolved],
                reference.base_rate,
                cfg.pr_auc_bootstrap,
                reference.sample_size,
            )
            if _pr_auc_if_enough(p, y, cfg) is not None
            else None
        ),
    )


def _feature_shifts(
    inputs: MonitorInputs,
    reference: ModelReference,
    scored: np.ndarray,
    groups: np.ndarray,
    cfg: MetricsConfig,
) -> dict[str, tuple[tuple[float, PsiTest] | None, MissingShift]]:
    """Per monitored feature: (PSI, its noise) over the non-missing values, and the missing shift.

    PSI with missing as its own bin reads a growing share of tokens whose creator has history
    (warm-up) as a change of the values; the two are different questions, so they are separate.
    """
    out: dict[str, tuple[tuple[float, PsiTest] | None, MissingShift]] = {}
    for name, dist in reference.features.items():
        if name not in inputs.features:
            continue
        values = np.asarray(inputs.features[name], dtype=np.float64)[scored]
        present = ~np.isnan(values)
        ref_present = (
            reference.sample_size * (1.0 - dist.missing_rate)
            if reference.sample_size is not None
            else None
        )
        shift = (
            psi_with_noise(dist, values[present], groups[scored][present], ref_present)
            if int(present.sum()) >= cfg.min_signals_for_psi
            else None
        )
        missing = missing_shift(present, groups[scored], dist.missing_rate, reference.sample_size)
        out[name] = (shift, missing)
    return out


def _top_decile_reference_rows(sample_size: int | None) -> float | None:
    return sample_size / 10.0 if sample_size is not None else None


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _pr_auc_if_enough(
    p: np.ndarray, y: np.ndarray, cfg: MetricsConfig, at_rate: float | None = None
) -> float | None:
    """Average precision; with ``at_rate``, as if the positives made up that share.

    Negatives are weighted by the odds ratio that moves the window's prevalence to ``at_rate``:
    precision at every threshold is then what the same ranking would give at that prevalence.
    """
    positives = int(y.sum())
    if p.size < cfg.min_resolved_for_pr_auc or positives < cfg.min_positives_for_pr_auc:
        return None
    if positives == p.size:
        return 1.0
    if at_rate is None or not 0.0 < at_rate < 1.0:
        return float(average_precision_score(y, p))
    prevalence = positives / p.size
    weight = (1.0 - at_rate) / at_rate * prevalence / (1.0 - prevalence)
    return float(average_precision_score(y, p, sample_weight=np.where(y > 0, 1.0, weight)))


def weighted_average_precision(p: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision per row of ``weights`` (resamples x signals); ties broken by order."""
    order = np.argsort(-p, kind="stable")
    w, hits = weights[:, order], y[order]
    true_pos = np.cumsum(w * hits, axis=1)
    seen = np.cumsum(w, axis=1)
    precision = np.divide(true_pos, seen, out=np.zeros_like(seen), where=seen > 0)
    positives = true_pos[:, -1]
    gained = np.sum(w * hits * precision, axis=1)
    return np.divide(gained, positives, out=np.zeros_like(gained), where=positives > 0)


def pr_auc_standard_error(
    p: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    at_rate: float | None,
    resamples: int,
    reference_rows: int | None,
    seed: int = 0,
) -> float | None:
    """Standard error of the (prevalence-adjusted) PR-AUC gap to a test-slice PR-AUC.

    Tokens are resampled with replacement (a token's buys share one fate); each resample is
    re-weighted to ``at_rate`` like the point estimate. The metadata PR-AUC has its own error,
    taken as the window's scaled by n_window / n_reference (same market, same clustering).
    """
    if resamples < 2 or p.size == 0:
        return None
    cluster = np.unique(groups, return_inverse=True)[1].reshape(-1)
    draws = np.random.default_rng(seed).multinomial(
        cluster.max() + 1, np.full(cluster.max() + 1, 1.0 / (cluster.max() + 1)), size=resamples
    )
    weights = draws[:, cluster].astype(np.float64)
    if at_rate is not None and 0.0 < at_rate < 1.0:
        pos = np.sum(weights * y, axis=1, keepdims=True)
        neg = np.sum(weights * (1.0 - y), axis=1, keepdims=True)
        odds = np.divide((1.0 - at_rate) / at_rate * pos, neg, out=np.ones_like(pos), where=neg > 0)
        weights = np.where(y > 0, weights, weights * odds)
    variance = float(np.var(weighted_average_precision(p, y, weights), ddof=1))
    if reference_rows:
        variance *= 1.0 + p.size / reference_rows
    return math.sqrt(variance)


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
    """ECE over ``n_bins`` equal-count bins and its sampling-noise floor (``streams.metrics``)."""
    rel = reliability(p, y, n_bins)
    return rel.ece, rel.ece_noise


def bin_index(distribution: BinnedDistribution, values: np.ndarray) -> np.ndarray:
    """Reference bin of every (non-missing) value."""
    edges = np.asarray(distribution.edges, dtype=np.float64)
    # side="left": a value equal to an edge belongs to the bin that edge closes, as in training.
    return np.searchsorted(edges, np.asarray(values, dtype=np.float64), side="left")


def psi(distribution: BinnedDistribution, values: np.ndarray) -> float:
    """Population stability index of the non-missing ``values`` against the reference bins.

    Missing values are left out (see ``missing_shift``); 0.0 when none is present.
    """
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    if present.size == 0:
        return 0.0
    bins = len(distribution.fractions)
    shares = np.bincount(bin_index(distribution, present), minlength=bins) / present.size
    actual = np.clip(shares, PSI_FLOOR, None)
    expected = np.clip(np.asarray(distribution.fractions, dtype=np.float64), PSI_FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi_test(
    distribution: BinnedDistribution,
    values: np.ndarray,
    groups: np.ndarray,
    reference_rows: float | None,
) -> PsiTest:
    """Noise floor and homogeneity test of the non-missing ``values`` against the bins.

    PSI is about a chi-square over n, so two samples of one distribution give
    sum_i (1 - r_i) * (1 / n_window + 1 / n_reference) over the non-empty reference bins.
    Same-token buys are not independent (creator-history features repeat one value for every
    buy of a token, and a few tokens can fill a reference bin): both n are divided by the mean
    design effect of the bin indicators (mint clusters). The reference, a test slice of the same
    market, is taken to cluster like the window; without its size it counts as exact.
    """
    present = np.asarray(values, dtype=np.float64)
    shares_ref = np.asarray(distribution.fractions, dtype=np.float64)
    if present.size == 0:
        return PsiTest(0.0, 1.0, 0.0, None)
    index = bin_index(distribution, present)
    used = shares_ref > 0.0
    deffs = np.array(
        [design_effect((index == i).astype(np.float64), groups) for i in np.flatnonzero(used)]
    )
    weights = 1.0 - shares_ref[used]
    deff = float(np.sum(weights * deffs) / np.sum(weights)) if weights.sum() > 0 else 1.0
    n_eff = present.size / deff
    ref_eff = reference_rows / deff if reference_rows else None
    inverse_n = 1.0 / n_eff + (1.0 / ref_eff if ref_eff else 0.0)
    noise = float(np.sum(weights)) * inverse_n
    shares = np.bincount(index, minlength=shares_ref.size) / present.size
    return PsiTest(noise, _homogeneity_p(shares, shares_ref, n_eff, ref_eff), n_eff, ref_eff)


def _homogeneity_p(
    shares: np.ndarray, shares_ref: np.ndarray, n_eff: float, ref_eff: float | None
) -> float:
    """p-value of the chi-square test that both samples come from one binned distribution."""
    if ref_eff:
        pooled = (shares * n_eff + shares_ref * ref_eff) / (n_eff + ref_eff)
        scale = n_eff * ref_eff / (n_eff + ref_eff)
    else:  # goodness of fit against exact reference shares
        pooled, scale = shares_ref, n_eff
    used = pooled > 0.0
    statistic = scale * float(np.sum((shares[used] - shares_ref[used]) ** 2 / pooled[used]))
    dof = int(used.sum()) - 1
    return float(chi2.sf(statistic, dof)) if dof > 0 else 1.0


def psi_with_noise(
    distribution: BinnedDistribution,
    values: np.ndarray,
    groups: np.ndarray,
    reference_rows: float | None,
) -> tuple[float, PsiTest]:
    """(PSI, its test) of the non-missing ``values`` (``groups`` aligned with them)."""
    return psi(distribution, values), psi_test(distribution, values, groups, reference_rows)


def missing_shift(
    present: np.ndarray, groups: np.ndarray, reference_rate: float, reference_rows: int | None
) -> MissingShift:
    """Two-proportion z of the window's missing share vs the reference's (clustered)."""
    missing = (~np.asarray(present, dtype=bool)).astype(np.float64)
    n = missing.size
    rate = float(missing.mean()) if n else 0.0
    deff = design_effect(missing, groups) if n else 1.0
    if reference_rows:
        pooled = (rate * n + reference_rate * reference_rows) / (n + reference_rows)
        inverse_n = 1.0 / max(n, 1) + 1.0 / reference_rows
    else:
        pooled, inverse_n = reference_rate, 1.0 / max(n, 1)
    variance = pooled * (1.0 - pooled) * deff * inverse_n
    if n == 0:
        z = None
    elif variance > 0.0:
        z = (rate - reference_rate) / math.sqrt(variance)
    else:
        z = 0.0 if rate == reference_rate else math.copysign(math.inf, rate - reference_rate)
    return MissingShift(rate=rate, reference_rate=reference_rate, design_effect=deff, z=z)


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
    expected_rows: float | None = None,
) -> HitRate:
    """Hit rate of the last ``last_n`` resolved signals scored at or above ``threshold``.

    ``expected_rows``: test-slice top-decile rows behind ``expected``; their effective n uses
    the window's top-decile design effect (same market, same clustering).
    """
    chosen = ~np.isnan(labels) & ~np.isnan(scores) & (scores >= threshold)
    order = np.argsort(np.nan_to_num(resolved_ts[chosen], nan=np.inf), kind="stable")
    keep = order[-last_n:] if last_n > 0 else order
    recent = labels[chosen][keep]
    n, hits = int(recent.size), int(recent.sum())
    deff = design_effect(recent, groups[chosen][keep]) if n else 1.0
    n_eff = n / deff if n else 0.0
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
        expected_n_effective=expected_rows / deff if expected_rows else None,
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
