from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from streams.monitor.metrics import (
    HitRate,
    ModelReference,
    MonitorInputs,
    WindowMetrics,
    compute_metrics,
    wilson_interval,
)
from streams.monitor.verdict import Level, Thresholds, judge
from training.metadata import reference_from_values

QUIET = WindowMetrics(
    signals=1_000,
    resolved=500,
    positives=100,
    mean_predicted_all=0.2,
    mean_predicted=0.2,
    hit_rate=0.2,
    calibration_z=0.0,
    design_effect=1.0,
    ece=0.03,
    ece_noise=0.03,
    brier=0.15,
    pr_auc=None,
    score_psi=0.01,
    feature_psi={"f": 0.01},
    top_decile=None,
)


def _top(hits: int, n: int, expected: float) -> HitRate:
    low, high = wilson_interval(hits, n)
    return HitRate(
        n=n,
        n_effective=float(n),
        hits=hits,
        rate=hits / n,
        low=low,
        high=high,
        expected=expected,
        threshold=0.5,
    )


def test_quiet_metrics_are_ok_with_no_reasons() -> None:
    verdict = judge(QUIET, ModelReference())
    assert verdict.level is Level.OK and verdict.reasons == () and verdict.label == "ok"


@pytest.mark.parametrize(
    ("value", "level"), [(0.05, Level.OK), (0.1, Level.WATCH), (0.3, Level.RETRAIN)]
)
def test_score_psi_rule(value: float, level: Level) -> None:
    opted_in = Thresholds(psi_max_level=Level.RETRAIN)
    verdict = judge(replace(QUIET, score_psi=value), ModelReference(), opted_in)
    assert verdict.level is level
    assert [r.rule for r in verdict.reasons] == ([] if level is Level.OK else ["score_psi"])
    by_default = judge(replace(QUIET, score_psi=value), ModelReference()).level
    assert by_default is min(level, Level.WATCH)  # shift alone is not evidence of error


@pytest.mark.parametrize(
    ("value", "level"), [(0.09, Level.OK), (0.15, Level.WATCH), (0.4, Level.RETRAIN)]
)
def test_feature_psi_rule_reports_the_worst_feature(value: float, level: Level) -> None:
    metrics = replace(QUIET, feature_psi={"a": 0.01, "b": value})
    verdict = judge(metrics, ModelReference(), Thresholds(psi_max_level=Level.RETRAIN))
    assert verdict.level is level
    assert judge(metrics, ModelReference()).level is min(level, Level.WATCH)
    if level is not Level.OK:
        assert "worst b" in verdict.reasons[0].message


@pytest.mark.parametrize(
    ("ece", "level"), [(0.06, Level.OK), (0.09, Level.WATCH), (0.2, Level.RETRAIN)]
)
def test_ece_rule_judges_the_excess_over_the_noise_floor(ece: float, level: Level) -> None:
    verdict = judge(replace(QUIET, ece=ece, ece_noise=0.03), ModelReference())
    assert verdict.level is level


def test_calibration_gap_needs_significance_and_size() -> None:
    big_but_noisy = replace(QUIET, hit_rate=0.05, calibration_z=-2.0)
    assert judge(big_but_noisy, ModelReference()).level is Level.OK
    significant_small = replace(QUIET, hit_rate=0.17, calibration_z=-4.0)
    assert judge(significant_small, ModelReference()).level is Level.OK
    watch = judge(replace(QUIET, hit_rate=0.14, calibration_z=-4.0), ModelReference())
    assert watch.level is Level.WATCH and "below" in watch.reasons[0].message
    assert (
        judge(replace(QUIET, hit_rate=0.08, calibration_z=-6.0), ModelReference()).level
        is Level.RETRAIN
    )


def test_top_decile_rule_retrains_only_when_significantly_below_expectation() -> None:
    assert judge(replace(QUIET, top_decile=_top(55, 100, 0.6)), ModelReference()).level is Level.OK
    watch = judge(replace(QUIET, top_decile=_top(47, 100, 0.6)), ModelReference())
    assert watch.level is Level.WATCH  # 0.47 < 0.8 * 0.6, but 0.6 is within 3 sigma (Wilson)
    retrain = judge(replace(QUIET, top_decile=_top(40, 200, 0.6)), ModelReference())
    assert retrain.level is Level.RETRAIN and retrain.reasons[0].rule == "top_decile_hit_rate"
    too_few = judge(replace(QUIET, top_decile=_top(0, 10, 0.6)), ModelReference())
    assert too_few.level is Level.OK


def test_pr_auc_rule_compares_with_the_metadata() -> None:
    reference = ModelReference(pr_auc=0.5)
    assert judge(replace(QUIET, pr_auc=0.45), reference).level is Level.OK
    assert judge(replace(QUIET, pr_auc=0.38), reference).level is Level.WATCH
    assert judge(replace(QUIET, pr_auc=0.25), reference).level is Level.WATCH  # capped
    opted_in = Thresholds(pr_auc_max_level=Level.RETRAIN)
    assert judge(replace(QUIET, pr_auc=0.25), reference, opted_in).level is Level.RETRAIN
    assert judge(replace(QUIET, pr_auc=0.25), ModelReference()).level is Level.OK


def test_thresholds_are_configurable_and_the_worst_rule_wins() -> None:
    metrics = replace(QUIET, score_psi=0.12, feature_psi={"f": 0.3})
    verdict = judge(metrics, ModelReference(), Thresholds(psi_max_level=Level.RETRAIN))
    assert verdict.level is Level.RETRAIN
    assert [r.rule for r in verdict.reasons] == ["feature_psi", "score_psi"]
    relaxed = Thresholds(score_psi_watch=0.2, feature_psi_watch=0.5, feature_psi_retrain=0.9)
    assert judge(metrics, ModelReference(), relaxed).level is Level.OK


def test_exit_codes() -> None:
    assert [lvl.exit_code for lvl in Level] == [0, 10, 20]


@pytest.mark.parametrize("seed", range(5))
def test_a_stable_synthetic_stream_stays_ok(seed: int) -> None:
    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        feature = rng.lognormal(size=n)
        p = 1.0 / (1.0 + np.exp(-(np.log(feature) - 1.2)))
        return feature, p, (rng.random(n) < p).astype(np.float64)

    feature, p, y = draw(20_000)
    top = p >= np.quantile(p, 0.9)
    reference = ModelReference(
        score=reference_from_values(p),
        features={"f": reference_from_values(feature)},
        # the calibrated model's own expectation for its top decile
        expected_top_decile_hit_rate=float(p[top].mean()),
        base_rate=float(y.mean()),
    )
    live_feature, live_p, live_y = draw(1_500)
    inputs = MonitorInputs(
        scores=live_p,
        labels=live_y,
        ts=np.arange(1_500.0),
        resolved_ts=np.arange(1_500.0),
        features={"f": live_feature},
    )
    verdict = judge(compute_metrics(inputs, reference), reference)
    assert verdict.level is Level.OK, verdict.messages()
