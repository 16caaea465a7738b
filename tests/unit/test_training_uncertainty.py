"""Token-clustered intervals, the reliability slope and the one shared metric implementation."""

from __future__ import annotations

import numpy as np

from streams.metrics import brier, reliability, reliability_slope
from streams.monitor.metrics import equal_frequency_ece
from training.uncertainty import (
    MIN_TEST_TOKENS,
    RANKING_STATISTICS,
    assess_slice,
    cluster_bootstrap,
    concentration,
    curve_shape,
    slice_warnings,
    token_weights,
)


def _clustered(tokens: int, rows_per_token: int, seed: int) -> tuple[np.ndarray, ...]:
    """Every buy of a token shares its fate; the score sees the fate through noise."""
    rng = np.random.default_rng(seed)
    fate = rng.random(tokens) < 0.2
    groups = np.repeat(np.arange(tokens), rows_per_token)
    y = fate[groups].astype(np.float64)
    scores = 1.0 / (1.0 + np.exp(-(2.0 * y - 1.0 + rng.normal(0.0, 1.5, y.size))))
    return scores, y, groups


def test_token_bootstrap_is_wider_than_a_row_bootstrap_on_clustered_rows() -> None:
    scores, y, groups = _clustered(tokens=60, rows_per_token=40, seed=1)
    by_token = cluster_bootstrap(scores, y, groups, RANKING_STATISTICS, resamples=100)
    by_row = cluster_bootstrap(scores, y, np.arange(y.size), RANKING_STATISTICS, resamples=100)
    token_ci, row_ci = by_token["pr_auc"], by_row["pr_auc"]
    assert token_ci.low <= token_ci.value <= token_ci.high
    assert token_ci.high - token_ci.low > 2.0 * (row_ci.high - row_ci.low)
    assert by_token["pr_auc"].value == by_row["pr_auc"].value  # same point, different certainty


def test_token_weights_give_every_token_one_unit() -> None:
    groups = np.array(["a", "a", "a", "b", "c", "c"])
    weights = token_weights(groups)
    assert np.allclose([weights[groups == g].sum() for g in "abc"], 1.0)


def test_slope_says_too_flat_when_predictions_are_squashed_toward_the_mean() -> None:
    rng = np.random.default_rng(3)
    truth = rng.uniform(0.02, 0.9, 20_000)
    y = (rng.random(truth.size) < truth).astype(np.float64)
    flat = 0.5 * truth + 0.2  # the same ranking, half the spread
    assert abs(reliability_slope(truth, y) - 1.0) < 0.1
    assessed = assess_slice(flat, y, np.arange(y.size) // 10)
    slope = assessed.intervals["reliability_slope"]
    assert slope.low > 1.5
    assert curve_shape(slope).startswith("too flat")
    steep = assess_slice(np.clip(2.0 * truth - 0.4, 0.001, 0.999), y, np.arange(y.size) // 10)
    assert curve_shape(steep.intervals["reliability_slope"]).startswith("too steep")


def test_small_slices_are_flagged() -> None:
    scores, y, groups = _clustered(tokens=40, rows_per_token=5, seed=2)
    warnings = slice_warnings(y, groups)
    assert any(f"< {MIN_TEST_TOKENS}" in w for w in warnings)
    _, big_y, big_groups = _clustered(tokens=2 * MIN_TEST_TOKENS, rows_per_token=2, seed=2)
    assert slice_warnings(big_y, big_groups) == []
    assert assess_slice(scores, y, groups).warnings == tuple(warnings)


def test_training_and_monitor_share_one_ece_and_brier() -> None:
    rng = np.random.default_rng(4)
    p = rng.uniform(0.0, 1.0, 997)
    y = (rng.random(p.size) < p**1.5).astype(np.float64)
    rel = reliability(p, y, 10)
    assert equal_frequency_ece(p, y, 10) == (rel.ece, rel.ece_noise)
    assert np.isclose(brier(p, y), float(np.mean((p - y) ** 2)))
    manual = np.mean(
        [abs(p[g].mean() - y[g].mean()) * g.size for g in np.array_split(np.argsort(p), 10)]
    )
    assert np.isclose(rel.ece, manual * 10 / p.size)


def test_concentration_names_the_share_a_few_tokens_carry() -> None:
    # token "big" has 90 of 100 rows and 9 of the 12 positives; 11 small tokens have 1 row each.
    groups = np.array(["big"] * 90 + [f"t{i}" for i in range(10)])
    y = np.array([1.0] * 9 + [0.0] * 81 + [1.0] * 3 + [0.0] * 7)
    got = concentration(y, groups)
    assert got["largest_token_row_share"] == 0.9
    assert got["largest_token_positive_share"] == 0.75
    assert got["top_tokens_positive_share"] == 1.0  # big + the 3 small positive tokens
    assessed = assess_slice(np.linspace(0.01, 0.5, 100), y, groups)
    assert assessed.as_dict()["concentration"] == got
    assert 0.0 < assessed.ece_noise < assessed.intervals["ece"].value
