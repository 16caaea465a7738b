"""What a model card shows, built from the run's metadata (rendering lives in ``training.card``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from streams.contracts.metadata import ModelMetadata, pair_stem
from training import card
from training.calibration import PlattFit, reliability
from training.evaluate import decile_table
from training.frame import TrainingFrame
from training.quality import GateReport

INTERVAL_LABELS = {
    "pr_auc": "PR-AUC (rows weighted equally)",
    "pr_auc_token_weighted": "PR-AUC (tokens weighted equally)",
    "top_decile_lift": "top-decile lift",
    "ece": "ECE after Platt",
    "reliability_slope": "reliability slope (observed on predicted, by decile; 1 = calibrated)",
}


def interval_rows(uncertainty: dict[str, Any] | None) -> dict[str, Any]:
    """Card rows: each metric with its 95% interval, the slice size and its warnings."""
    if not uncertainty:
        return {"intervals": "not recorded"}
    rows: dict[str, Any] = {
        "test tokens / tokens with a positive": (
            f"{uncertainty['tokens']} / {uncertainty['positive_tokens']} (minimums "
            f"{uncertainty['minimums']['tokens']} / {uncertainty['minimums']['positive_tokens']})"
        ),
    }
    for key, label in INTERVAL_LABELS.items():
        got = uncertainty["intervals"].get(key)
        if got is not None:
            rows[label] = f"{got['value']:.3f} [{got['low']:.3f}, {got['high']:.3f}]"
    rows["reliability curve"] = uncertainty["reliability_curve"]
    rows[f"ECE goal <= {uncertainty['ece_goal']}"] = _goal_text(uncertainty)
    share = uncertainty.get("concentration")
    if share:  # older metadata did not record it
        rows["largest token: share of rows / of positives"] = (
            f"{share['largest_token_row_share']:.1%} / {share['largest_token_positive_share']:.1%}"
        )
        rows[f"{int(share['top_tokens'])} tokens with most positives hold"] = (
            f"{share['top_tokens_positive_share']:.1%} of them"
        )
    for i, warning in enumerate(uncertainty["warnings"], start=1):
        rows[f"warning {i}"] = warning
    return rows


def _goal_text(uncertainty: dict[str, Any]) -> str:
    verdict = "met" if uncertainty["ece_goal_met"] else "missed"
    noise = uncertainty.get("ece_noise")
    if noise is None:
        return verdict
    text = f"{verdict}; noise floor {noise:.3f} (a calibrated model's ECE here, rows independent)"
    if noise > uncertainty["ece_goal"]:
        text += ": this slice is too small to show the goal"
    return text


def split_rows(splits: dict[str, Any]) -> dict[str, Any]:
    """Card rows: boundaries, rows and purge counts per slice, the minimum span and warnings."""
    rows: dict[str, Any] = {
        **splits["boundaries_utc"],
        **{f"rows {k}": v for k, v in splits["rows"].items()},
        **{f"purged {k}": v for k, v in splits["purged"].items()},
    }
    if "minimum_span_ms" in splits:  # older metadata did not record it
        rows["minimum data span (h)"] = splits["minimum_span_ms"] / 3_600_000
    for i, warning in enumerate(splits.get("warnings", []), start=1):
        rows[f"warning {i}"] = warning
    return rows


def write_model_card(
    report_dir: Path,
    data: TrainingFrame,
    meta: ModelMetadata,
    fit: PlattFit,
    raw_test: np.ndarray,
    calibrated: np.ndarray,
    y_test: np.ndarray,
    rule_test: np.ndarray | None,
    gains: np.ndarray,
    parity_text: str,
    gate: GateReport,
) -> Path:
    extra = meta.model_extra or {}
    tm = extra["test_metrics"]
    rule = extra.get("rule_score_metrics")
    oracle = extra.get("oracle")
    comparison: dict[str, Any] = {
        "model PR-AUC": tm["pr_auc"],
        "model ROC-AUC": tm["roc_auc"],
        "model top-decile precision": tm["top_decile_hit_rate"],
        "model top-decile lift": tm["top_decile_lift"],
        "base rate": tm["base_rate"],
    }
    if rule:
        comparison.update(
            {
                "rule PR-AUC": rule["pr_auc"],
                "rule ROC-AUC": rule["roc_auc"],
                "rule top-decile precision": rule["top_decile_hit_rate"],
            }
        )
    else:
        comparison["rule score"] = (
            "not available (no served rule_score, no streams.scoring.rule_score)"
        )
    if oracle:
        comparison.update(
            {
                "oracle PR-AUC (features + hidden truth)": oracle["pr_auc"],
                "our PR-AUC as share of oracle": oracle["share"],
                "oracle truth fields": ", ".join(oracle["truth_fields"]),
            }
        )
    splits = extra["splits"]
    uncertainty = extra.get("uncertainty")
    sections: dict[str, dict[str, Any]] = {
        "Model": {
            "model_id": meta.model_id,
            "family": meta.family,
            "target": meta.target,
            "version": meta.version,
            "feature_set": meta.feature_set,
            "features": meta.feature_count,
            "source": extra["source"],
            "training seconds": extra["training_seconds"],
            "onnx_sha256": meta.onnx_sha256,
        },
        "Test slice: model vs rule score vs base rate": comparison,
        "How sure (token-clustered bootstrap, test slice)": interval_rows(uncertainty),
        "Calibration (Platt fitted on the calibration period, measured on the later test period)": {
            "platt_a": fit.a,
            "platt_b": fit.b,
            **extra["calibration_report"],
        },
        "Chronological splits (UTC)": split_rows(splits),
        "Search": {
            **{k: v for k, v in extra["search"].items() if k != "search_params"},
            **extra["search"]["search_params"],
        },
        "Libraries": extra["libraries"],
    }
    deciles = decile_table(calibrated, y_test)
    decile_text = "\n".join(
        f"decile {int(r['decile']):>2}  rows {int(r['rows']):>6}  min score {r['min_score']:.4f}  "
        f"precision {r['hit_rate']:.3f}  lift {r['lift']:.2f}"
        for r in deciles
    )
    inputs = card.CardInputs(
        title=f"{pair_stem(data.family, meta.target)} @ {meta.version}",
        stem=pair_stem(data.family, meta.target),
        y_test=y_test,
        raw_test=raw_test,
        calibrated_test=calibrated,
        rule_test=rule_test,
        gains=gains,
        feature_names=list(data.feature_names),
        before=reliability(raw_test, y_test),
        after=reliability(calibrated, y_test),
        sections=sections,
        preformatted={
            "Score deciles (test slice)": decile_text,
            "ONNX parity": parity_text,
            "Data-quality gate": gate.render(),
        },
    )
    return card.write_card(inputs, report_dir)
