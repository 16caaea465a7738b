"""Evaluate a monitor frame per model version and time window. Pure (pandas + the core)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from streams.monitor.frames import as_of, between, inputs_of
from streams.monitor.metrics import (
    MetricsConfig,
    ModelReference,
    WindowMetrics,
    compute_metrics,
    hit_rate_by_bin,
)
from streams.monitor.verdict import Level, Thresholds, Verdict, is_veto_label, judge


@dataclass(frozen=True)
class WindowResult:
    start_ms: int
    end_ms: int
    metrics: WindowMetrics
    verdict: Verdict


@dataclass(frozen=True)
class ModelResult:
    """One model version over the monitored period ``[since, until)``, seen at ``until``."""

    model: str
    has_reference: bool
    period: WindowResult
    windows: tuple[WindowResult, ...]
    # per reference score bin: (resolved, mean predicted, realised hit rate)
    by_score_bin: tuple[tuple[int, float | None, float | None], ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> Verdict:
        return self.period.verdict


def evaluate(
    frame: pd.DataFrame,
    references: Mapping[str, ModelReference],
    since_ms: int,
    until_ms: int,
    window_ms: int,
    config: MetricsConfig | None = None,
    thresholds: Thresholds | None = None,
) -> list[ModelResult]:
    """Metrics and verdicts per model version over ``[since, until)`` and per window inside it.

    Labels count only if they had resolved by ``until_ms``; the verdict is the whole period's.
    """
    if window_ms <= 0 or until_ms <= since_ms:
        raise ValueError("need window_ms > 0 and until_ms > since_ms")
    visible = between(as_of(frame, until_ms), since_ms, until_ms)
    results = []
    for model in sorted(visible["model"].unique()):
        rows = visible.loc[visible["model"] == model]
        # Cold start (no reference for this version yet): judged on its labels alone.
        reference = references.get(model, ModelReference(veto=is_veto_label(str(model))))
        names = list(reference.features)
        windows = tuple(
            _window(
                rows, reference, names, start, min(start + window_ms, until_ms), config, thresholds
            )
            for start in range(since_ms, until_ms, window_ms)
        )
        period = _window(rows, reference, names, since_ms, until_ms, config, thresholds)
        edges = reference.score.edges if reference.score is not None else _decile_edges(rows)
        bins = hit_rate_by_bin(
            rows["score"].to_numpy(np.float64), rows["label"].to_numpy(np.float64), edges
        )
        results.append(ModelResult(str(model), model in references, period, windows, tuple(bins)))
    return results


def _window(
    rows: pd.DataFrame,
    reference: ModelReference,
    names: list[str],
    start_ms: int,
    end_ms: int,
    config: MetricsConfig | None,
    thresholds: Thresholds | None,
) -> WindowResult:
    inside = between(rows, start_ms, end_ms)
    metrics = compute_metrics(inputs_of(inside, names), reference, config)
    return WindowResult(start_ms, end_ms, metrics, judge(metrics, reference, thresholds))


def _decile_edges(rows: pd.DataFrame) -> tuple[float, ...]:
    scores = rows["score"].dropna().to_numpy(np.float64)
    if scores.size == 0:
        return ()
    return tuple(float(e) for e in np.unique(np.quantile(scores, np.linspace(0.1, 0.9, 9))))


def worst_level(results: list[ModelResult]) -> Level:
    """The exit verdict: over the models with a reference (deployed), else over all of them."""
    judged = [r for r in results if r.has_reference] or results
    return max((r.verdict.level for r in judged), default=Level.OK)
