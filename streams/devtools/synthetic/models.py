"""Tiny synthetic LightGBM model pairs for tests and the scoring benchmark (not for serving)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import lightgbm
import numpy as np

from streams.contracts.metadata import (
    ModelMetadata,
    PlattCalibration,
    PlattInput,
    reference_from_values,
)
from streams.scoring.calibration import LOGIT_CLIP
from training.export import export_onnx, sha256_hex


@dataclass(frozen=True, slots=True)
class SyntheticPair:
    booster: lightgbm.Booster
    onnx_bytes: bytes
    metadata: ModelMetadata
    X: np.ndarray


def synthetic_rows(
    n_rows: int, n_features: int, seed: int, missing_rate: float = 0.1
) -> np.ndarray:
    """Gaussian rows; the first half of the columns get NaNs, the rest are never missing."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features))
    half = max(1, n_features // 2)
    X[:, :half][rng.random((n_rows, half)) < missing_rate] = np.nan
    return X


def train_booster(
    X: np.ndarray, feature_names: Sequence[str], seed: int, n_trees: int = 20, num_leaves: int = 15
) -> lightgbm.Booster:
    """A binary booster on a noisy label that depends on a few columns (with NaN handling)."""
    rng = np.random.default_rng(seed + 1)
    signal = np.nan_to_num(X[:, 0]) + 0.7 * X[:, -1] - 0.5 * np.nan_to_num(X[:, 1] * X[:, 2])
    y = (signal + rng.normal(scale=0.8, size=X.shape[0]) > 0.3).astype(np.int32)
    params = {
        "objective": "binary",
        "num_leaves": num_leaves,
        "min_data_in_leaf": 5,
        "learning_rate": 0.2,
        "verbose": -1,
        "seed": seed,
        "num_threads": 1,
        "deterministic": True,
    }
    dataset = lightgbm.Dataset(X, y, feature_name=list(feature_names))
    return lightgbm.train(params, dataset, num_boost_round=n_trees)


def synthetic_pair(
    feature_names: Sequence[str],
    *,
    family: str = "standard",
    target: str = "reach_2x_1h",
    version: str = "20240101T000000Z",
    seed: int = 0,
    n_rows: int = 1500,
    n_trees: int = 20,
    platt_a: float = 4.0,
    platt_b: float = -2.0,
    platt_input: PlattInput = "probability",
) -> SyntheticPair:
    names = tuple(feature_names)
    X = synthetic_rows(n_rows, len(names), seed)
    booster = train_booster(X, names, seed, n_trees=n_trees)
    onnx_bytes = export_onnx(booster, names)
    metadata = ModelMetadata(
        model_id=f"{family}-{target}-synthetic",
        model_type="lightgbm",
        target=target,
        family=family,
        version=version,
        feature_set="synthetic",
        feature_names=names,
        feature_count=len(names),
        calibration=PlattCalibration(platt_a=platt_a, platt_b=platt_b, platt_input=platt_input),
        pr_auc=None,
        base_rate=None,
        onnx_sha256=sha256_hex(onnx_bytes),
        reference={names[0]: reference_from_values(X[:, 0])},
    )
    return SyntheticPair(booster, onnx_bytes, metadata, X)


def calibrated_gap_bound(
    raw: np.ndarray, a: float, raw_gap: float, on: PlattInput = "probability"
) -> np.ndarray:
    """Per row, the most two raw probabilities ``raw_gap`` apart can differ once calibrated
    (ONNX against LightGBM): |d platt / d raw| <= |a| / 4, over p (1 - p) for the logit input."""
    slope = abs(a) / 4.0 * raw_gap + 1e-12
    if on == "probability":
        return np.full(np.shape(raw), slope)
    # p (1 - p) grows with the distance to 0 or 1, so the nearer end of the interval bounds it.
    margin = np.minimum(np.asarray(raw, dtype=np.float64), 1.0 - np.asarray(raw, dtype=np.float64))
    nearest = np.clip(margin - raw_gap, LOGIT_CLIP, 0.5)
    return slope / (nearest * (1.0 - nearest))
