"""Pure numbers of a demo run: latency, throughput over time, rule vs model on a slice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from streams.demo.config import SliceQuality
from streams.demo.observe import SeenScore
from training.calibration import reliability
from training.evaluate import score_metrics


def latency_definition(input_linger_ms: float, log_linger_ms: float, tick_ms: float = 0.0) -> str:
    start = (
        f"the time the pacing made it due (the feed sends every {tick_ms:g} ms what is due, "
        "stamped with that time as the message's Kafka timestamp)"
        if tick_ms > 0
        else "the input message's Kafka timestamp (CreateTime, set by the demo's producer to the "
        "wall-clock produce time)"
    )
    # the tick's wait is part of the figure when there is one
    waits = (
        "the feed's wait for its tick, its producer's linger"
        if tick_ms > 0
        else "the feed producer's linger"
    )
    return (
        "per buy: score.scored_at (wall clock in the worker when the score was built) minus "
        f"{start}; includes {waits} "
        f"({input_linger_ms:g} ms), two broker hops (input, market log), the sequencer's "
        f"ordering wait and its log producer's linger ({log_linger_ms:g} ms), the worker's "
        "batch read, features and scoring; not the delivery of the score to its consumer"
    )


def buy_latencies_ms(scores: Sequence[SeenScore], sent_ms: Mapping[str, int]) -> np.ndarray:
    """End-to-end latency of every scored buy whose produce time we know."""
    out = [
        s.scored_at_ms - sent_ms[s.source_event_id]
        for s in scores
        if s.kind == "buy" and s.source_event_id in sent_ms
    ]
    return np.asarray(out, dtype=np.float64)


def latency_summary(latencies_ms: np.ndarray) -> dict[str, float]:
    if latencies_ms.size == 0:
        return {}
    p50, p95, p99 = np.percentile(latencies_ms, [50, 95, 99])
    return {
        "n": float(latencies_ms.size),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(latencies_ms.max()),
        "mean": float(latencies_ms.mean()),
    }


@dataclass(frozen=True)
class RateSeries:
    """Events per second in fixed wall-clock bins, seconds since ``t0_ms``."""

    seconds: np.ndarray
    per_s: np.ndarray


def rate_series(times_ms: Sequence[int], t0_ms: int, bin_s: float = 5.0) -> RateSeries:
    if not times_ms:
        return RateSeries(np.zeros(0), np.zeros(0))
    t = (np.asarray(times_ms, dtype=np.float64) - t0_ms) / 1000.0
    edges = np.arange(0.0, max(t.max(), 0.0) + bin_s, bin_s)
    if edges.size < 2:
        edges = np.array([0.0, bin_s])
    counts, _ = np.histogram(t, bins=edges)
    return RateSeries(edges[:-1], counts / bin_s)


def after_reload(scores: Sequence[SeenScore], since_ms: int) -> tuple[int, int]:
    """(scores built at or after ``since_ms``, how many of them a model scored)."""
    later = [s for s in scores if s.scored_at_ms >= since_ms]
    return len(later), sum(1 for s in later if s.by_model)


def slice_quality(family: str, target: str, rows: pd.DataFrame) -> SliceQuality | None:
    """Rule score vs the model's calibrated score on the same resolved rows of one family.

    ``rows`` holds ``rule_score``, ``model_score`` and ``label`` (0/1).
    """
    if rows.empty:
        return None
    y = rows["label"].to_numpy(dtype=np.float64)
    rule = rows["rule_score"].to_numpy(dtype=np.float64)
    model = rows["model_score"].to_numpy(dtype=np.float64)
    rule_m, model_m = score_metrics(rule, y), score_metrics(model, y)
    return SliceQuality(
        family=family,
        target=target,
        rows=len(rows),
        positives=int(y.sum()),
        base_rate=model_m.base_rate,
        rule_pr_auc=rule_m.pr_auc,
        model_pr_auc=model_m.pr_auc,
        rule_lift=rule_m.top_decile_lift,
        model_lift=model_m.top_decile_lift,
        model_ece=reliability(model, y).ece,
        rule_ece=reliability(rule, y).ece,
    )
