from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from streams.contracts.metadata import reference_from_values
from streams.monitor.metrics import (
    Bins,
    MetricsConfig,
    ModelReference,
    MonitorInputs,
    compute_metrics,
    design_effect,
    equal_frequency_ece,
    hit_rate_by_bin,
    missing_shift,
    pr_auc_standard_error,
    psi,
    psi_test,
    quantile_of,
    top_decile_hit_rate,
    wilson_interval,
)


def _stream(rng: np.random.Generator, n: int, shrink: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated scores and labels drawn from them (``shrink`` < 1 makes hits rarer)."""
    p = rng.beta(2.0, 6.0, size=n)
    y = (rng.random(n) < p * shrink).astype(np.float64)
    return p, y


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(1)
    reference = reference_from_values(rng.normal(size=20_000))
    assert psi(reference, rng.normal(size=5_000)) < 0.01
    assert psi(reference, rng.normal(loc=0.3, size=5_000)) > 0.05
    assert psi(reference, rng.normal(loc=1.0, size=5_000)) > 0.25


def test_psi_ignores_the_missing_share_which_missing_shift_judges_on_its_own() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=10_000)
    reference = reference_from_values(values)
    assert reference.missing_rate == 0.0
    half_missing = values.copy()
    half_missing[::2] = np.nan
    assert psi(reference, half_missing) < 0.01  # the present values did not move
    shift = missing_shift(~np.isnan(half_missing), np.arange(10_000), 0.0, 10_000)
    assert shift.change == pytest.approx(0.5) and shift.z is not None and shift.z > 10


def test_missing_shift_z_counts_same_token_buys_once() -> None:
    rng = np.random.default_rng(21)
    # 60 tokens x 50 buys; a token has creator history or not, for all its buys alike
    present = np.repeat(rng.random(60) < 0.65, 50)
    tokens = np.repeat(np.arange(60), 50)
    alone = missing_shift(present, np.arange(3_000), 0.45, 9_000)
    clustered = missing_shift(present, tokens, 0.45, 9_000)
    assert clustered.design_effect == pytest.approx(50.0, rel=0.1)
    assert alone.z is not None and clustered.z is not None
    assert abs(clustered.z) < abs(alone.z) / 4


def test_psi_noise_floor_is_the_two_sample_bias_and_grows_with_clustering() -> None:
    rng = np.random.default_rng(22)
    reference = reference_from_values(rng.normal(size=5_000))
    values = rng.normal(size=2_000)
    test = psi_test(reference, values, np.arange(2_000), 5_000)
    assert test.noise == pytest.approx(9 * (1 / 2_000 + 1 / 5_000), rel=0.1)
    observed = [
        psi(reference_from_values(rng.normal(size=5_000)), rng.normal(size=2_000))
        for _ in range(40)
    ]
    assert float(np.mean(observed)) == pytest.approx(test.noise, rel=0.3)
    tokens = np.repeat(np.arange(100), 20)  # 20 buys of a token share one value
    shared = np.repeat(rng.normal(size=100), 20)
    clustered = psi_test(reference, shared, tokens, 5_000)
    assert clustered.n_effective == pytest.approx(100.0, rel=0.2)
    assert clustered.noise > 5 * test.noise


def test_psi_test_separates_a_few_heavy_tokens_from_a_real_shift() -> None:
    rng = np.random.default_rng(23)
    reference = reference_from_values(rng.normal(size=8_000))
    tokens = np.repeat(np.arange(40), 100)  # 40 tokens, 100 buys each, one value per token
    noisy = np.repeat(rng.normal(size=40), 100)
    heavy = psi_test(reference, noisy, tokens, 8_000)
    assert psi(reference, noisy) > 0.1 and heavy.p_value > 0.001  # large PSI, but 40 draws
    moved = np.repeat(rng.normal(loc=1.5, size=40), 100)
    assert psi_test(reference, moved, tokens, 8_000).p_value < 1e-4


def test_pr_auc_at_the_reference_rate_undoes_a_prevalence_change() -> None:
    rng = np.random.default_rng(24)

    def window(rate: float, n: int) -> tuple[np.ndarray, np.ndarray]:
        y = (rng.random(n) < rate).astype(np.float64)
        return rng.normal(loc=1.2 * y), y  # the same ranking power at any prevalence

    ref_s, ref_y = window(0.2, 40_000)
    low_s, low_y = window(0.05, 40_000)
    reference = ModelReference(base_rate=0.2)
    inputs = MonitorInputs(
        scores=1 / (1 + np.exp(-low_s)),
        labels=low_y,
        ts=np.zeros(low_y.size),
        resolved_ts=np.zeros(low_y.size),
    )
    m = compute_metrics(inputs, reference)
    expected = average_precision_score(ref_y, ref_s)
    assert m.pr_auc is not None and m.pr_auc < expected - 0.15  # raw PR-AUC follows prevalence
    assert m.pr_auc_at_reference_rate == pytest.approx(expected, abs=0.02)


def test_pr_auc_standard_error_grows_with_same_token_clustering() -> None:
    rng = np.random.default_rng(25)
    token_fate = (rng.random(100) < 0.3).astype(np.float64)
    y = np.repeat(token_fate, 20)
    p = np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(scale=0.2, size=y.size), 0.01, 0.99)
    alone = pr_auc_standard_error(p, y, np.arange(y.size), None, 200, None)
    tokens = pr_auc_standard_error(p, y, np.repeat(np.arange(100), 20), None, 200, None)
    with_reference = pr_auc_standard_error(p, y, np.repeat(np.arange(100), 20), None, 200, 2_000)
    assert alone is not None and tokens is not None and with_reference is not None
    assert tokens > 2 * alone
    assert with_reference == pytest.approx(tokens * math.sqrt(2.0), rel=1e-6)


def test_quantile_of_decile_bins_recovers_the_ninetieth_percentile() -> None:
    rng = np.random.default_rng(3)
    values = rng.beta(2.0, 6.0, size=50_000)
    reference = reference_from_values(values)
    assert quantile_of(reference, 0.9) == pytest.approx(np.quantile(values, 0.9), abs=0.01)
    assert quantile_of(Bins(edges=(), fractions=(1.0,)), 0.9) is None


def test_ece_is_at_noise_level_when_calibrated_and_large_when_not() -> None:
    rng = np.random.default_rng(4)
    p, y = _stream(rng, 4_000)
    ece, noise = equal_frequency_ece(p, y, 10)
    assert ece < 2.5 * noise
    _, y_shifted = _stream(np.random.default_rng(4), 4_000, shrink=0.5)
    ece_bad, _ = equal_frequency_ece(p, y_shifted, 10)
    assert ece_bad > 0.08


def test_wilson_interval_matches_the_textbook_case_and_brackets_the_rate() -> None:
    low, high = wilson_interval(5, 10, 1.96)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)  # Wilson (1927) for 5/10
    assert wilson_interval(0, 20)[0] == 0.0
    assert wilson_interval(0, 0) == (0.0, 1.0)


@given(st.integers(min_value=1, max_value=500), st.data())
@settings(max_examples=60, deadline=None)
def test_wilson_interval_contains_the_point_estimate(n: int, data: st.DataObject) -> None:
    hits = data.draw(st.integers(min_value=0, max_value=n))
    low, high = wilson_interval(hits, n)
    rate = hits / n
    assert 0.0 <= low <= rate + 1e-12
    assert rate <= high + 1e-12
    assert high <= 1.0


def test_top_decile_uses_the_last_n_resolved_signals_above_the_cut() -> None:
    scores = np.array([0.9, 0.95, 0.2, 0.91, 0.99, 0.92])
    labels = np.array([0.0, 1.0, 1.0, np.nan, 1.0, 1.0])
    resolved_ts = np.array([1.0, 2.0, 3.0, np.nan, 5.0, 4.0])
    hit = top_decile_hit_rate(scores, labels, resolved_ts, np.arange(6), 0.9, 3, 0.5)
    # eligible resolved: 0.9@1 (miss), 0.95@2, 0.92@4, 0.99@5 -> the last three all hit
    assert (hit.n, hit.hits, hit.rate) == (3, 3, 1.0)
    assert hit.low < 1.0 == hit.high


def test_compute_metrics_uses_only_resolved_labels() -> None:
    rng = np.random.default_rng(5)
    p, y = _stream(rng, 1_000)
    labels = y.copy()
    labels[500:] = np.nan
    inputs = MonitorInputs(
        scores=p,
        labels=labels,
        ts=np.arange(1_000, dtype=np.float64),
        resolved_ts=np.where(np.isnan(labels), np.nan, np.arange(1_000) + 10.0),
    )
    m = compute_metrics(inputs, ModelReference(score=reference_from_values(p)))
    assert (m.signals, m.resolved, m.positives) == (1_000, 500, int(y[:500].sum()))
    assert m.hit_rate == pytest.approx(y[:500].mean())
    assert m.brier == pytest.approx(np.mean((p[:500] - y[:500]) ** 2))
    assert m.mean_predicted_all == pytest.approx(p.mean())
    assert m.pr_auc is not None and 0.0 < m.pr_auc < 1.0
    assert m.score_psi is not None and m.score_psi < 0.02
    assert m.top_decile is not None and m.top_decile.n > 0


def test_label_metrics_wait_for_enough_resolved_outcomes() -> None:
    rng = np.random.default_rng(6)
    p, y = _stream(rng, 150)
    inputs = MonitorInputs(scores=p, labels=y, ts=np.zeros(150), resolved_ts=np.zeros(150))
    cfg = MetricsConfig(min_resolved_for_pr_auc=200, min_resolved_for_calibration=200)
    m = compute_metrics(inputs, ModelReference(), cfg)
    assert m.pr_auc is None and m.ece is None and m.score_psi is None and m.top_decile is None
    assert m.brier is not None and m.hit_rate is not None


def test_feature_psi_is_computed_for_reference_features_present_in_the_input() -> None:
    rng = np.random.default_rng(7)
    train = rng.normal(size=10_000)
    live = rng.normal(loc=2.0, size=400)
    reference = ModelReference(
        features={"f_drift": reference_from_values(train), "f_absent": reference_from_values(train)}
    )
    inputs = MonitorInputs(
        scores=rng.random(400),
        labels=np.full(400, np.nan),
        ts=np.zeros(400),
        resolved_ts=np.full(400, np.nan),
        features={"f_drift": live},
    )
    m = compute_metrics(inputs, reference)
    assert set(m.feature_psi) == {"f_drift"}
    assert m.max_feature_psi is not None and m.max_feature_psi[1] > 1.0


def test_inputs_of_different_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        MonitorInputs(
            scores=np.zeros(3), labels=np.zeros(2), ts=np.zeros(3), resolved_ts=np.zeros(3)
        )


def test_hit_rate_by_bin_partitions_the_resolved_signals() -> None:
    rng = np.random.default_rng(8)
    p, y = _stream(rng, 2_000)
    edges = reference_from_values(p).edges
    rows = hit_rate_by_bin(p, y, edges)
    assert len(rows) == len(edges) + 1
    assert sum(n for n, _, _ in rows) == 2_000
    rates = [rate for _, _, rate in rows if rate is not None]
    assert rates[-1] > rates[0]  # higher scores hit more often
    assert not any(math.isnan(r) for r in rates)


def test_design_effect_counts_same_token_buys_as_one_outcome_but_not_a_shift() -> None:
    rng = np.random.default_rng(9)
    independent = rng.random(2_000)
    assert design_effect(independent, np.arange(2_000)) == pytest.approx(1.0, abs=0.2)
    per_token = np.repeat(rng.random(100) < 0.3, 20).astype(np.float64)  # 20 buys share a fate
    assert design_effect(per_token, np.repeat(np.arange(100), 20)) == pytest.approx(20.0, rel=0.05)
    shifted = independent + 5.0  # a systematic offset is what the monitor must still see
    assert design_effect(shifted, np.arange(2_000)) == pytest.approx(1.0, abs=0.2)


def test_clustered_top_decile_has_a_wider_interval() -> None:
    scores = np.full(200, 0.9)
    labels = np.repeat(np.arange(20) % 2, 10).astype(np.float64)  # 20 tokens x 10 buys
    resolved = np.arange(200, dtype=np.float64)
    alone = top_decile_hit_rate(scores, labels, resolved, np.arange(200), 0.5, 200, 0.5)
    tokens = top_decile_hit_rate(
        scores, labels, resolved, np.repeat(np.arange(20), 10), 0.5, 200, 0.5
    )
    assert alone.rate == tokens.rate == 0.5
    assert tokens.n_effective == pytest.approx(20.0, rel=0.05) and alone.n_effective == 200
    assert tokens.high - tokens.low > 2 * (alone.high - alone.low)


def test_top_decile_expectation_carries_the_reference_sample_size() -> None:
    scores = np.full(200, 0.9)
    labels = np.repeat(np.arange(20) % 2, 10).astype(np.float64)  # 20 tokens x 10 buys
    hit = top_decile_hit_rate(
        scores,
        labels,
        np.arange(200.0),
        np.repeat(np.arange(20), 10),
        0.5,
        200,
        0.5,
        expected_rows=1_000.0,
    )
    # the test slice's 1,000 top-decile rows cluster like the window's: ~100 effective
    assert hit.expected_n_effective == pytest.approx(100.0, rel=0.05)
    reference = ModelReference(score=reference_from_values(scores), sample_size=10_000)
    inputs = MonitorInputs(
        scores=scores,
        labels=labels,
        ts=np.zeros(200),
        resolved_ts=np.arange(200.0),
        groups=np.repeat(np.arange(20), 10),
    )
    top = compute_metrics(inputs, reference).top_decile
    assert top is not None and top.expected_n_effective == pytest.approx(100.0, rel=0.05)
