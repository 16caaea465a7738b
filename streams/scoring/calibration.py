"""Platt calibration: the one place the formula lives (training fits a, b; the scorer applies them)."""

from __future__ import annotations

import numpy as np


def platt(raw: np.ndarray | float, a: float, b: float) -> np.ndarray:
    """calibrated = 1 / (1 + exp(-(a * raw + b))) on the raw model probability, as float64."""
    z = a * np.asarray(raw, dtype=np.float64) + b
    # exp overflows to inf for very negative z, which correctly yields 0.0.
    with np.errstate(over="ignore"):
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)
