"""Platt calibration: the one place the formula lives (training fits a, b; the scorer applies them)."""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def platt(raw: np.ndarray | float, a: float, b: float) -> np.ndarray:
    """calibrated = 1 / (1 + exp(-(a * raw + b))) on the raw model probability, as float64."""
    # expit is the same logistic function, without overflow for very negative arguments.
    return np.asarray(expit(a * np.asarray(raw, dtype=np.float64) + b), dtype=np.float64)
