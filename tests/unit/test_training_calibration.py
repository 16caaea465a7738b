"""Platt fit recovers known parameters; the formula is the scorer's; ECE/Brier behave."""

from __future__ import annotations

import numpy as np
import pytest

from streams.scoring import platt
from training.calibration import (
    PlattFit,
    brier,
    calibrate,
    compare_platt_inputs,
    fit_platt,
    reliability,
)


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        (4.0, -2.0, 0.0, 1.0),
        (-1.5, 0.5, 0.0, 1.0),
        (9.0, -6.0, 0.0, 1.0),
        # Rare positives and class-weighted raw probabilities: plain Newton diverged here once.
        (7.0, -5.0, 0.01, 0.75),
        (8.7, -3.6, 0.33, 0.97),
    ],
)
def test_fit_recovers_known_a_b(a: float, b: float, low: float, high: float) -> None:
    rng = np.random.default_rng(11)
    raw = rng.uniform(low, high, size=200_000)
    y = (rng.random(raw.size) < platt(raw, a, b)).astype(np.float64)
    fit = fit_platt(raw, y)
    assert fit.a == pytest.approx(a, rel=0.05)
    assert fit.b == pytest.approx(b, rel=0.05)


def test_calibrate_is_the_scorers_formula() -> None:
    raw = np.linspace(0.0, 1.0, 101)
    fit = PlattFit(a=3.3, b=-1.1, iterations=0)
    expected = 1.0 / (1.0 + np.exp(-(3.3 * raw - 1.1)))
    np.testing.assert_allclose(calibrate(raw, fit), expected, rtol=1e-12)
    np.testing.assert_array_equal(calibrate(raw, fit), platt(raw, 3.3, -1.1))


def test_calibration_reduces_ece_and_brier_of_a_miscalibrated_score() -> None:
    rng = np.random.default_rng(5)
    raw = rng.uniform(0.0, 1.0, size=50_000)
    y = (rng.random(raw.size) < platt(raw, 5.0, -4.0)).astype(np.float64)
    fit = fit_platt(raw[:25_000], y[:25_000])
    after = calibrate(raw[25_000:], fit)
    held_raw, held_y = raw[25_000:], y[25_000:]
    assert reliability(after, held_y).ece < 0.02 < reliability(held_raw, held_y).ece
    assert brier(after, held_y) < brier(held_raw, held_y)


def test_reliability_uses_equal_frequency_bins() -> None:
    p = np.linspace(0.0, 1.0, 1000)
    rel = reliability(p, (p > 0.5).astype(float), bins=10)
    assert rel.counts.tolist() == [100] * 10
    assert rel.ece >= 0.0


def test_separable_data_gives_finite_parameters() -> None:
    raw = np.array([0.1, 0.2, 0.8, 0.9])
    fit = fit_platt(raw, np.array([0.0, 0.0, 1.0, 1.0]))
    assert np.isfinite([fit.a, fit.b]).all()


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))


@pytest.mark.parametrize(("a", "b"), [(1.0, 0.0), (0.7, -0.9), (1.4, 0.6)])
def test_fit_on_the_logit_recovers_known_a_b(a: float, b: float) -> None:
    rng = np.random.default_rng(13)
    raw = rng.uniform(0.01, 0.99, size=200_000)
    y = (rng.random(raw.size) < 1.0 / (1.0 + np.exp(-(a * _logit(raw) + b)))).astype(np.float64)
    fit = fit_platt(raw, y, "logit")
    assert fit.on == "logit"
    assert fit.a == pytest.approx(a, abs=0.05)
    assert fit.b == pytest.approx(b, abs=0.05)
    np.testing.assert_array_equal(calibrate(raw, fit), platt(raw, fit.a, fit.b, "logit"))


def test_later_half_comparison_prefers_the_form_the_data_follows() -> None:
    rng = np.random.default_rng(17)
    raw = rng.beta(0.5, 6.0, size=40_000)  # skewed to 0, as rare-event probabilities are
    truth = 1.0 / (1.0 + np.exp(-(0.6 * _logit(np.clip(raw, 1e-7, 1 - 1e-7)) - 0.8)))
    y = (rng.random(raw.size) < truth).astype(np.float64)
    compared = compare_platt_inputs(raw, y)
    assert compared["later_half_ece_logit"] < compared["later_half_ece_probability"]
    with pytest.raises(ValueError, match="at least 4 rows"):
        compare_platt_inputs(raw[:3], y[:3])
