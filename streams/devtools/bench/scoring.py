"""Scoring benchmark: Scorer (onnxruntime + Platt + rule) vs LightGBM ``Booster.predict``.

Single-row latency and batched throughput for 1 and all 4 targets of one family, served as the
worker does (a family's models fused in one session, one run per batch) and with one session run
per model, to show what fusing pays.
Run through ``alphastream bench scoring`` or ``run_scoring_bench()``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import lightgbm
import numpy as np

from streams.contracts.events import TARGETS
from streams.contracts.features import STANDARD_NAMES
from streams.devtools.synthetic.models import SyntheticPair, synthetic_pair
from streams.scoring.registry import ModelRegistry
from streams.scoring.rules import RuleScorer
from streams.scoring.scorer import Scorer
from training.export import deploy_pair


@dataclass(frozen=True, slots=True)
class BenchRow:
    engine: str  # scorer | scorer_separate | lightgbm_predict | rule
    n_models: int
    batch: int
    median_us: float  # per call
    p99_us: float
    rows_per_s: float


def bench_feature_names(n_features: int = 68) -> tuple[str, ...]:
    """The real standard feature list (68), or its first ``n_features`` names plus padding."""
    names = STANDARD_NAMES[:n_features]
    return (*names, *(f"pad_{i}" for i in range(n_features - len(names))))


def _time_calls(call: Callable[[], object], min_calls: int, min_seconds: float) -> np.ndarray:
    for _ in range(10):
        call()
    samples: list[int] = []
    started = time.perf_counter()
    while len(samples) < min_calls or time.perf_counter() - started < min_seconds:
        t0 = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - t0)
    return np.asarray(samples, dtype=np.float64) / 1000.0


def _engines(
    fused: Scorer, separate: Scorer, boosters: list[lightgbm.Booster], X: np.ndarray
) -> dict[str, Callable[[], object]]:
    """What is timed: the full Scorer as it serves (the family's models fused in one session,
    + Platt + rule), the same with one session run per model, LightGBM predict per model (raw
    only), and the rule score alone (its share of the Scorer's call)."""
    rule = RuleScorer("standard", bench_feature_names(X.shape[1]))

    def fused_call() -> object:
        return fused.score_batch("standard", X)

    def separate_call() -> object:
        return separate.score_batch("standard", X)

    def lightgbm_call() -> object:
        return [b.predict(X, num_threads=1) for b in boosters]

    return {
        "scorer": fused_call,
        "scorer_separate": separate_call,
        "lightgbm_predict": lightgbm_call,
        "rule": lambda: rule.score(X),
    }


def run_scoring_bench(
    n_features: int = 68,
    n_trees: int = 200,
    batch_sizes: Sequence[int] = (1, 256),
    min_seconds: float = 1.0,
    n_rows: int = 20_000,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    names = bench_feature_names(n_features)
    note = progress or (lambda _msg: None)
    pairs: list[SyntheticPair] = []
    for i, target in enumerate(TARGETS):
        note(f"training {target} ({n_trees} trees, {len(names)} features)")
        pairs.append(
            synthetic_pair(names, target=target, seed=seed + i, n_rows=n_rows, n_trees=n_trees)
        )
    X_all = pairs[0].X
    results: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="alphastream-bench-") as tmp:
        for n_models in (1, len(pairs)):
            models_dir = Path(tmp) / f"models_{n_models}"
            for pair in pairs[:n_models]:
                deploy_pair(pair.onnx_bytes, pair.metadata, models_dir)
            fused, separate = (
                Scorer(ModelRegistry(models_dir, {"standard": names}, 3600, fused=fused))
                for fused in (True, False)
            )
            boosters = [p.booster for p in pairs[:n_models]]
            for batch in batch_sizes:
                X = np.ascontiguousarray(X_all[:batch])
                note(f"timing {n_models} model(s), batch {batch}")
                engines = _engines(fused, separate, boosters, X)
                if n_models > 1:
                    del engines["rule"]  # it does not depend on the models
                for engine, call in engines.items():
                    us = _time_calls(call, min_calls=50, min_seconds=min_seconds)
                    median = float(np.median(us))
                    results.append(
                        BenchRow(
                            engine=engine,
                            n_models=n_models,
                            batch=batch,
                            median_us=median,
                            p99_us=float(np.percentile(us, 99)),
                            rows_per_s=batch / (median / 1e6),
                        )
                    )
    return results


def format_rows(rows: Sequence[BenchRow]) -> str:
    header = (
        f"{'engine':<18} {'models':>6} {'batch':>6} {'median_us':>10} {'p99_us':>10} {'rows/s':>12}"
    )
    lines = [header]
    for r in rows:
        lines.append(
            f"{r.engine:<18} {r.n_models:>6} {r.batch:>6} {r.median_us:>10.1f} "
            f"{r.p99_us:>10.1f} {r.rows_per_s:>12.0f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_rows(run_scoring_bench(progress=print)))
