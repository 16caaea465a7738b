"""Platt calibration: the one place the formula lives (training fits a, b; the scorer applies them)."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

from streams.contracts.metadata import PlattInput

# The logit input is clipped so a raw probability rounded to exactly 0 or 1 stays finite;
# 1e-7 bounds |logit| by ~16.
LOGIT_CLIP = 1e-7


def platt_feature(raw: np.ndarray | float, on: PlattInput = "probability") -> np.ndarray:
    """What Platt's line is fitted on: the raw probability, or its clipped logit (the model's
    margin, classic Platt scaling)."""
    values = np.asarray(raw, dtype=np.float64)
    if on == "logit":
        return np.asarray(logit(np.clip(values, LOGIT_CLIP, 1.0 - LOGIT_CLIP)), dtype=np.float64)
    return values


def platt(
    raw: np.ndarray | float, a: float, b: float, on: PlattInput = "probability"
) -> np.ndarray:
    """calibrated = 1 / (1 + exp(-(a * x + b))) with x the raw probability or its logit, as float64."""
    # expit is the same logistic function, without overflow for very negative arguments.
    return np.asarray(expit(a * platt_feature(raw, on) + b), dtype=np.float64)
