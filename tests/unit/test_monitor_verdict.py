from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from streams.contracts.metadata import reference_from_values
from streams.monitor.evaluate import evaluate
from streams.monitor.metrics import (
    HitRate,
    MissingShift,
    ModelReference,
    MonitorInputs,
    PsiTest,
    WindowMetrics,
    compute_metrics,
    wilson_interval,
)
from streams.monitor.verdict import Level, Thresholds, is_veto_label, judge

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


def _top(hits: int, n: int, expected: float, expected_n: float | None = None) -> HitRate:
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
        expected_n_effective=expected_n,
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


def test_top_decile_rule_counts_the_sampling_error_of_the_expectation() -> None:
    exact = judge(replace(QUIET, top_decile=_top(90, 200, 0.6)), ModelReference())
    assert exact.level is Level.RETRAIN
    # the same window against an expectation measured on 100 effective test-slice outcomes
    small = judge(replace(QUIET, top_decile=_top(90, 200, 0.6, 100.0)), ModelReference())
    assert small.level is Level.WATCH and "expectation effective n 100" in small.reasons[0].message
    tiny = judge(replace(QUIET, top_decile=_top(90, 200, 0.6, 20.0)), ModelReference())
    assert tiny.level is Level.OK


def test_psi_counts_only_above_its_noise_floor_and_when_significant() -> None:
    noisy = PsiTest(noise=0.3, p_value=0.2, n_effective=60.0, reference_n_effective=90.0)
    metrics = replace(QUIET, feature_psi={"f": 0.35}, feature_psi_test={"f": noisy})
    assert metrics.feature_psi_excess["f"] == pytest.approx(0.05)
    assert judge(metrics, ModelReference()).level is Level.OK
    big_but_insignificant = replace(metrics, feature_psi={"f": 0.8}, feature_psi_test={"f": noisy})
    assert judge(big_but_insignificant, ModelReference()).level is Level.OK
    real = replace(
        metrics, feature_psi={"f": 0.8}, feature_psi_test={"f": replace(noisy, p_value=1e-6)}
    )
    verdict = judge(real, ModelReference())
    assert verdict.level is Level.WATCH and "above noise" in verdict.reasons[0].message
    score = PsiTest(noise=0.02, p_value=1e-9, n_effective=900.0, reference_n_effective=900.0)
    assert judge(replace(QUIET, score_psi=0.11, score_psi_test=score), ModelReference()).level is (
        Level.OK
    )  # 0.09 above noise
    assert judge(replace(QUIET, score_psi=0.13, score_psi_test=score), ModelReference()).level is (
        Level.WATCH
    )


def test_missing_share_rule_needs_significance_and_a_material_change() -> None:
    def with_shift(rate: float, z: float) -> WindowMetrics:
        shift = MissingShift(rate=rate, reference_rate=0.45, design_effect=90.0, z=z)
        return replace(QUIET, missing_shift={"cre_mean_peak_mult": shift})

    assert judge(with_shift(0.35, -1.7), ModelReference()).level is Level.OK  # warm-up noise
    assert judge(with_shift(0.40, -3.5), ModelReference()).level is Level.OK  # small change
    verdict = judge(with_shift(0.07, -13.0), ModelReference())
    assert verdict.level is Level.WATCH and verdict.reasons[0].rule == "missing_share"
    opted_in = Thresholds(psi_max_level=Level.RETRAIN)
    assert judge(with_shift(0.07, -13.0), ModelReference(), opted_in).level is Level.WATCH


def test_pr_auc_rule_uses_the_prevalence_adjusted_value_and_its_error() -> None:
    reference = ModelReference(pr_auc=0.6, base_rate=0.2)
    dropped = replace(QUIET, pr_auc=0.40, pr_auc_at_reference_rate=0.46)
    assert judge(dropped, reference).level is Level.WATCH
    assert "at the reference base rate" in judge(dropped, reference).reasons[0].message
    prevalence_only = replace(QUIET, pr_auc=0.40, pr_auc_at_reference_rate=0.58)
    assert judge(prevalence_only, reference).level is Level.OK
    within_error = replace(dropped, pr_auc_se=0.055)  # 0.14 is 2.5 standard errors
    assert judge(within_error, reference).level is Level.OK
    assert judge(replace(dropped, pr_auc_se=0.03), reference).level is Level.WATCH


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


def test_a_veto_that_under_predicts_its_event_retrains_sooner_than_one_that_over_predicts() -> None:
    veto, reach = ModelReference(veto=True), ModelReference()
    # The same 25% relative gap at the same significance (z 2.5), in both directions.
    under = replace(QUIET, mean_predicted=0.20, hit_rate=0.25, calibration_z=2.5)
    over = replace(QUIET, mean_predicted=0.20, hit_rate=0.15, calibration_z=-2.5)
    assert judge(under, veto).level is Level.RETRAIN
    assert "veto under-predicting" in judge(under, veto).reasons[0].message
    assert judge(over, veto).level is Level.OK  # not significant at the standard z = 3
    assert judge(replace(over, calibration_z=-4.0), veto).level is Level.WATCH
    # A non-veto model is judged symmetrically: the under-prediction is not significant for it.
    assert judge(under, reach).level is Level.OK
    assert judge(replace(under, calibration_z=4.0), reach).level is Level.WATCH
    # Small under-predictions stay ok even for a veto.
    assert judge(replace(under, hit_rate=0.21), veto).level is Level.OK
    assert judge(replace(under, hit_rate=0.225), veto).level is Level.WATCH


def test_veto_models_are_recognised_from_their_label() -> None:
    assert is_veto_label("genesis__is_dead_soon__20260101T000000.000Z@20260101T000000.000Z")
    assert not is_veto_label("standard__reach_2x_1h__20260101T000000.000Z@20260101T000000.000Z")
    assert not is_veto_label("is_dead_soon")


def test_cold_start_is_judged_on_labels_only_and_says_so() -> None:
    waiting = replace(QUIET, ece=None, ece_noise=None, resolved=40)
    verdict = judge(waiting, ModelReference())
    assert verdict.level is Level.OK
    assert any("no training reference" in n for n in verdict.notes)
    assert any("only 40 resolved labels" in n for n in verdict.notes)
    # With labels, a badly calibrated model on a new market is caught without any reference.
    over = replace(QUIET, mean_predicted=0.35, hit_rate=0.20, calibration_z=-6.0)
    assert judge(over, ModelReference()).level is Level.RETRAIN


def test_evaluate_without_any_reference_still_judges_calibration() -> None:
    rng = np.random.default_rng(5)
    n = 2_000
    ts = np.arange(n, dtype=np.float64) * 1_000.0
    scores = np.full(n, 0.35)  # predicts 35% deaths ...
    labels = (rng.random(n) < 0.6).astype(np.float64)  # ... 60% die: a veto missing its event
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "model": "genesis__is_dead_soon__v1@v1",
            "ts": ts,
            "score": scores,
            "label": labels,
            "resolved_ts": ts + 10.0,
            "mint": [f"m{i // 4}" for i in range(n)],
        }
    )
    (result,) = evaluate(frame, {}, 0, n * 1_000, 3_600_000)
    assert not result.has_reference
    assert result.verdict.level is Level.RETRAIN
    assert any("no training reference" in note for note in result.verdict.notes)
