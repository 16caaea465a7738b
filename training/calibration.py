"""Platt scaling (the calibration metrics live in ``streams.metrics``).

calibrated = sigmoid(a * x + b), x the raw probability or its clipped logit; the forward formula
is the scorer's own (``streams.scoring.platt``), so training and serving cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.metrics import Reliability, brier, reliability
from streams.scoring.calibration import PlattInput, platt, platt_feature

__all__ = [
    "PlattFit",
    "PlattInput",
    "Reliability",
    "brier",
    "calibrate",
    "compare_platt_inputs",
    "fit_platt",
    "reliability",
]


@dataclass(frozen=True)
class PlattFit:
    a: float
    b: float
    iterations: int
    on: PlattInput = "probability"


def fit_platt(
    raw: np.ndarray,
    y: np.ndarray,
    on: PlattInput = "probability",
    max_iter: int = 100,
    tol: float = 1e-10,
) -> PlattFit:
    """Maximum-likelihood a, b by damped Newton (backtracking on the log-loss); a tiny ridge
    keeps separable data finite. ``on`` says what the line is fitted on (see ``platt``)."""
    x = platt_feature(raw, on)
    t = np.asarray(y, dtype=np.float64)
    if x.shape != t.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError("raw and y must be non-empty 1-d arrays of the same length")
    design = np.column_stack([x, np.ones_like(x)])
    prior = float(np.clip(t.mean(), 1e-6, 1 - 1e-6))
    theta = np.array([0.0, float(np.log(prior / (1.0 - prior)))])
    ridge = 1e-6
    loss = _penalized_loss(design, t, theta, ridge)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007  # the count is reported
        p = _sigmoid(design @ theta)
        gradient = design.T @ (p - t) / len(t) + ridge * theta
        hessian = design.T @ (design * (p * (1.0 - p))[:, None]) / len(t) + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-10:  # halve the step until the loss does not increase
            candidate = theta - scale * step
            candidate_loss = _penalized_loss(design, t, candidate, ridge)
            if candidate_loss <= loss:
                break
            scale /= 2.0
        else:
            break
        theta, loss = candidate, candidate_loss
        if float(np.max(np.abs(scale * step))) < tol:
            break
    return PlattFit(a=float(theta[0]), b=float(theta[1]), iterations=iterations, on=on)


def _penalized_loss(design: np.ndarray, t: np.ndarray, theta: np.ndarray, ridge: float) -> float:
    z = design @ theta
    # log(1 + exp(z)) - t * z, computed without overflow.
    nll = np.mean(np.logaddexp(0.0, z) - t * z)
    return float(nll + 0.5 * ridge * float(theta @ theta))


def calibrate(raw: np.ndarray, fit: PlattFit) -> np.ndarray:
    """The serving formula, imported from the scorer."""
    return platt(raw, fit.a, fit.b, fit.on)


def compare_platt_inputs(raw: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """ECE of each Platt input, fitted on the earlier half of a time-ordered calibration slice
    and measured on its later half: evidence for the served form that never reads the test
    slice."""
    half = len(raw) // 2
    if half < 2 or len(raw) - half < 2:
        raise ValueError("the calibration slice needs at least 4 rows to compare Platt inputs")
    result: dict[str, float] = {}
    for on in ("probability", "logit"):
        fit = fit_platt(raw[:half], y[:half], on)
        result[f"later_half_ece_{on}"] = reliability(calibrate(raw[half:], fit), y[half:]).ece
    return result


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))
