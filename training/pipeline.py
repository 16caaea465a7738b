"""One training run for one (family, target): split, gate, search, calibrate, export, deploy, card."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

import lightgbm
import numpy as np
import optuna
import pandas as pd
import sklearn

from streams.contracts.metadata import ModelMetadata, PlattCalibration, metadata_path, pair_stem
from streams.contracts.types import Family
from streams.scoring.rules import RuleScorer
from training.calibration import (
    PlattInput,
    brier,
    calibrate,
    compare_platt_inputs,
    fit_platt,
    reliability,
)
from training.card_data import write_model_card
from training.evaluate import build_reference, score_metrics
from training.export import deploy_pair, export_onnx, parity_check, sha256_hex
from training.frame import TrainingFrame, resolved_for
from training.oracle import OracleResult, load_truth, oracle_pr_auc
from training.quality import GateReport, QualityGateFailed, run_gate
from training.search import MAX_THREADS, SearchResult, Slice, run_search
from training.splits import DEFAULT_FRACTIONS, SLICES, SplitPlan, chronological_split
from training.uncertainty import assess_slice


class ParityFailed(RuntimeError):
    """The exported ONNX does not score like the LightGBM booster: nothing is deployed."""


class CalibrationFailed(RuntimeError):
    """Platt found no increasing map from raw to calibrated probability: nothing is deployed."""


class Reporter(Protocol):
    def stage(self, text: str) -> None: ...

    def trial(self, done: int, total: int, best: float) -> None: ...


class SilentReporter:
    def stage(self, text: str) -> None:
        return None

    def trial(self, done: int, total: int, best: float) -> None:
        return None


@dataclass(frozen=True)
class TrainConfig:
    target: str
    models_dir: Path
    report_dir: Path
    version: str
    trials: int = 20
    timeout_s: float | None = None
    seed: int = 7
    allow: tuple[str, ...] = ()
    truth_path: Path | None = None
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS  # train, valid, holdout
    num_threads: int = MAX_THREADS  # 1 is faster when the cores are already busy
    # Platt on the model's margin (the logit), the classic form; docs/training.md says why.
    platt_input: PlattInput = "logit"


@dataclass(frozen=True)
class TrainOutcome:
    metadata: ModelMetadata
    onnx_path: Path
    metadata_path: Path
    card_path: Path
    gate: GateReport
    booster: lightgbm.Booster
    summary: dict[str, Any] = field(default_factory=dict)


def new_version(now: datetime | None = None) -> str:
    """Sortable UTC version string, e.g. 20260101T120000.123Z."""
    moment = now or datetime.now(UTC)
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"


def train_model(
    data: TrainingFrame, config: TrainConfig, reporter: Reporter | None = None
) -> TrainOutcome:
    report = reporter or SilentReporter()
    started = time.monotonic()
    names = list(data.feature_names)
    rows = resolved_for(data.frame, config.target)
    plan = chronological_split(
        rows["ts"].to_numpy(),
        rows["label_resolved_ts"].to_numpy(),
        rows["mint"].to_numpy(),
        config.fractions,
    )
    slices = {name: rows.iloc[plan.positions(name)].reset_index(drop=True) for name in SLICES}
    for warning in plan.warnings:
        report.stage(f"warning: {warning}")
    report.stage(f"gate: {len(rows)} resolved rows, slices {plan.counts()}")
    gate = run_gate(data.frame, names, config.target, slices, config.allow)
    if not gate.passed:
        raise QualityGateFailed(gate)
    xy = {
        n: Slice(data.matrix(s), s[config.target].to_numpy(dtype=np.float64))
        for n, s in slices.items()
    }

    report.stage(f"search: {config.trials} trial(s)")
    previous = previous_params(config.models_dir, data.family, config.target)
    result = run_search(
        xy["train"],
        xy["valid"],
        names,
        config.trials,
        config.timeout_s,
        config.seed,
        previous,
        on_trial=lambda done, best: report.trial(done, config.trials, best),
        num_threads=config.num_threads,
    )
    booster = result.booster
    raw = {n: np.asarray(booster.predict(xy[n].x), dtype=np.float64) for n in ("calib", "test")}

    report.stage(f"calibrate (Platt on the {config.platt_input}, calibration slice)")
    fit = fit_platt(raw["calib"], xy["calib"].y, config.platt_input)
    if not fit.a > 0.0:  # the model ranks the calibration slice backwards (or not at all)
        raise CalibrationFailed(f"Platt slope a={fit.a:.4g} <= 0 on the calibration slice")
    calibrated = calibrate(raw["test"], fit)
    y_test = xy["test"].y

    report.stage("export ONNX + parity")
    onnx_bytes = export_onnx(booster, names)
    parity = parity_check(booster, onnx_bytes, xy["test"].x, seed=config.seed)
    if not parity.ok:
        raise ParityFailed(parity.summary())

    metrics = score_metrics(calibrated, y_test)
    report.stage("bootstrap intervals (tokens resampled)")
    assessment = assess_slice(calibrated, y_test, slices["test"]["mint"].to_numpy(), config.seed)
    for warning in assessment.warnings:
        report.stage(f"warning: {warning}")
    gains = np.asarray(booster.feature_importance(importance_type="gain"), dtype=np.float64)
    rule_test = rule_scores(data, slices["test"])
    rule = score_metrics(rule_test, y_test).as_dict() if rule_test is not None else None
    oracle = _oracle(config, slices, names, result, metrics.pr_auc, report)
    calibration_report = {
        "ece_before": reliability(raw["test"], y_test).ece,
        "ece_after": reliability(calibrated, y_test).ece,
        "brier_before": brier(raw["test"], y_test),
        "brier_after": brier(calibrated, y_test),
        "platt_input": fit.on,
        **compare_platt_inputs(raw["calib"], xy["calib"].y),
    }
    meta = ModelMetadata(
        model_id=f"{pair_stem(data.family, config.target)}__{config.version}",
        model_type="lightgbm",
        target=config.target,
        family=cast(Family, data.family),
        version=config.version,
        feature_set=data.feature_set,
        feature_names=tuple(names),
        feature_count=len(names),
        calibration=PlattCalibration(platt_a=fit.a, platt_b=fit.b, platt_input=fit.on),
        pr_auc=_unit(metrics.pr_auc),
        base_rate=_unit(metrics.base_rate),
        onnx_sha256=sha256_hex(onnx_bytes),
        reference=build_reference(calibrated, xy["test"].x, names, gains),
        roc_auc=metrics.roc_auc,
        expected_top_decile_hit_rate=metrics.top_decile_hit_rate,
        test_metrics=metrics.as_dict(),
        calibration_report=calibration_report,
        uncertainty=assessment.as_dict(),
        rule_score_metrics=rule,
        oracle=oracle.as_dict() if oracle is not None else None,
        splits=_split_record(plan),
        params=result.params,
        search={
            "trials": result.trials,
            "warm_started": result.warm_started,
            "best_iteration": result.best_iteration,
            "valid_pr_auc": result.valid_pr_auc,
            "search_params": result.search_params,
            "seed": config.seed,
        },
        libraries=library_versions(),
        parity=parity_dict(parity),
        gate=gate.as_dict(),
        source=data.source,
        trained_at=datetime.now(UTC).isoformat(),
        training_seconds=round(time.monotonic() - started, 3),
    )
    report.stage("deploy")
    onnx_file, meta_file = deploy_pair(onnx_bytes, meta, config.models_dir)
    card_path = write_model_card(
        config.report_dir,
        data,
        meta,
        fit,
        raw["test"],
        calibrated,
        y_test,
        rule_test,
        gains,
        parity.summary(),
        gate,
    )
    summary = {
        "pr_auc": metrics.pr_auc,
        "roc_auc": metrics.roc_auc,
        "base_rate": metrics.base_rate,
        "top_decile_hit_rate": metrics.top_decile_hit_rate,
        "rule_pr_auc": rule["pr_auc"] if rule else None,
        "oracle_share": oracle.share_of_oracle if oracle else None,
        **calibration_report,
        "intervals": assessment.intervals,
        "reliability_curve": assessment.curve_shape,
        "warnings": [*plan.warnings, *assessment.warnings],
    }
    return TrainOutcome(meta, onnx_file, meta_file, card_path, gate, booster, summary)


def previous_params(models_dir: Path, family: str, target: str) -> dict[str, Any] | None:
    """The deployed model's stored params (enqueued as the next search's first trial)."""
    path = metadata_path(models_dir, family, target)
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    params = stored.get("params") if isinstance(stored, dict) else None
    return params if isinstance(params, dict) else None


def rule_scores(data: TrainingFrame, test: pd.DataFrame) -> np.ndarray | None:
    """The served rule score when the source has it, else the scorer's rule on these features
    (None when the frame lacks the rule's inputs, e.g. a synthetic frame)."""
    if "rule_score" in test.columns and test["rule_score"].notna().any():
        return test["rule_score"].to_numpy(dtype=np.float64)
    try:
        scorer = RuleScorer(data.family, data.feature_names)
    except KeyError:
        return None
    return np.asarray(scorer.score(data.matrix(test)), dtype=np.float64)


def library_versions() -> dict[str, str]:
    import onnx
    import onnxmltools
    import onnxruntime

    mods = (lightgbm, optuna, sklearn, np, pd, onnx, onnxmltools, onnxruntime)
    return {m.__name__: str(m.__version__) for m in mods}


def parity_dict(parity: Any) -> dict[str, Any]:
    return {
        "ok": bool(parity.ok),
        "tolerance": float(parity.tolerance),
        "input_type": str(getattr(parity, "input_type", "")),  # what serving feeds the ONNX
        "probes": {
            k: dict(p.__dict__) if hasattr(p, "__dict__") else _slots(p)
            for k, p in parity.probes.items()
        },
        "never_missing_features": list(parity.never_missing_features),
        "notes": list(parity.notes),
        "warnings": list(getattr(parity, "warnings", ())),  # probe kinds outside the gate
    }


def _slots(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _unit(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _split_record(plan: SplitPlan) -> dict[str, Any]:
    b1, b2 = plan.boundaries_ms
    bounds = {
        "start": plan.start_ms,
        "valid_from": b1,
        "holdout_from": b2,
        "test_from": plan.test_from_ms,
        "end": plan.end_ms,
    }
    return {
        "boundaries_ms": bounds,
        "boundaries_utc": {k: _iso(v) for k, v in bounds.items()},
        "rows": plan.counts(),
        "purged": dict(plan.purged),
        "minimum_span_ms": plan.minimum_span_ms,
        "warnings": list(plan.warnings),
        "rule": "train/valid/calib keep a row only if label_resolved_ts < the slice's end "
        "boundary; the holdout is cut in time: calib [holdout_from, test_from), test [test_from, end]",
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _oracle(
    config: TrainConfig,
    slices: dict[str, pd.DataFrame],
    names: Sequence[str],
    result: SearchResult,
    model_pr_auc: float,
    report: Reporter,
) -> OracleResult | None:
    if config.truth_path is None:
        return None
    report.stage("oracle (features + hidden truth)")
    truth = load_truth(config.truth_path)
    return oracle_pr_auc(slices, names, config.target, truth, result.params, model_pr_auc)
