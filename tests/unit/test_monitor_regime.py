"""The drift monitor on a simulated market: a regime change gives ``retrain``, a stable one ``ok``.

One seeded market is simulated twice: as is (stable) and with a regime change at ``CHANGE_H``
(more ruggers, weaker smart wallets, souring market mood). Both runs are identical before the
change, so the feature engine replays the shared prefix once and its state is copied at the
change for the two continuations. A model is trained once on the pre-change history, deployed
to a temp dir and served by ``streams.scoring`` (``ModelRegistry`` + ``Scorer``). The monitor
then runs every simulated hour over the last ``LOOKBACK_H`` hours, seeing only the labels
resolved by then, as ``alphastream monitor --since T-3h --until T`` would.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
from streams.events import Outcome, decode_input
from streams.features.engine import EngineOutput, FeatureEngine
from streams.monitor.evaluate import ModelResult, evaluate
from streams.monitor.frames import monitor_frame
from streams.monitor.references import deployed_models
from streams.monitor.verdict import Level
from streams.scoring import ModelRegistry, Scorer
from streams.sim import SimConfig, simulate
from streams.sim.config import RegimeChange
from training.pipeline import TrainConfig, train_model
from training.sources import from_frame, registry_features

pytestmark = pytest.mark.slow

TARGET = "reach_2x_1h"
HOUR = 3_600_000
SEED = 7
LAUNCHES_PER_DAY = 4_000.0
CHANGE_H = 20  # pre-change history the model trains on
END_H = 26  # simulated launches stop here
LOOKBACK_H = 3  # each monitor run: the last 3h (about 2h of them with resolved labels)
RETRAIN_WITHIN_H = 3  # hours after the change by which the changed market must say retrain
CHANGE = {"rugger_share": 0.8, "smart_edge": 0.1, "quality_shift": -1.0}


@dataclass
class Replayed:
    """Buy signals (features) and their 1h-stage labels, as the offline replay joins them."""

    rows: list[tuple[str, int, str, np.ndarray]]
    labels: dict[str, tuple[float, int]]  # signal event id -> (label, resolved ts)

    def take(self, out: EngineOutput) -> None:
        self.rows.extend(
            (s.event_id, s.ts, s.mint, s.features) for s in out.signals if s.kind == "buy"
        )
        for outcome in out.outcomes:
            self._label(outcome)

    def _label(self, outcome: Outcome) -> None:
        if outcome.stage == "1h" and outcome.kind == "buy":
            self.labels[outcome.signal_event_id] = (float(outcome.labels[TARGET]), outcome.ts)

    def frame(self) -> pd.DataFrame:
        features = np.vstack([r[3] for r in self.rows])
        out = pd.DataFrame(features, columns=list(STANDARD_NAMES))
        ids = [r[0] for r in self.rows]
        known = [self.labels.get(e) for e in ids]
        out.insert(0, "event_id", ids)
        out.insert(1, "ts", np.array([r[1] for r in self.rows], dtype=np.int64))
        out.insert(2, "mint", [r[2] for r in self.rows])
        out["label_resolved_ts"] = [k[1] if k else None for k in known]
        for name in ("reach_2x_1h", "reach_3x_30m", "reach_2x_10m", "is_dead_soon"):
            out[name] = [k[0] if (k and name == TARGET) else None for k in known]
        return out


def _feed(engine: FeatureEngine, book: Replayed, event: dict[str, Any]) -> None:
    result = engine.process(decode_input(orjson.dumps(event)))
    if result.signals or result.outcomes:
        book.take(result)


def _replay_both(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replay the stable and the changed market, sharing the engine work before the change."""
    base = SimConfig(seed=seed, hours=END_H, launch_rate_per_day=LAUNCHES_PER_DAY)
    change_ms = base.start_ms + CHANGE_H * HOUR
    changed_cfg = SimConfig(
        seed=seed,
        hours=END_H,
        launch_rate_per_day=LAUNCHES_PER_DAY,
        regime=(RegimeChange(change_ms, tuple(sorted(CHANGE.items()))),),
    )
    stable_events, changed_events = simulate(base), simulate(changed_cfg)
    engine, book = FeatureEngine(), Replayed([], {})
    first_stable = _prefix(engine, book, stable_events, changed_events, change_ms)
    fork_engine = FeatureEngine(state=copy.deepcopy(engine.state))
    fork_book = Replayed(list(book.rows), dict(book.labels))
    for ev, eng, bk, rest in (
        (first_stable, engine, book, stable_events),
        (None, fork_engine, fork_book, changed_events),
    ):
        for event in _chain(ev, rest):
            _feed(eng, bk, event)
        bk.take(eng.flush())
    return book.frame(), fork_book.frame()


def _prefix(
    engine: FeatureEngine,
    book: Replayed,
    stable: Iterator[dict[str, Any]],
    changed: Iterator[dict[str, Any]],
    change_ms: int,
) -> dict[str, Any]:
    """Feed the shared events before the change; check both runs really share them."""
    for event in stable:
        if event["ts"] >= change_ms:
            # the changed run's next event is its first after the change: put it back in front
            return event
        assert next(changed) == event, "stable and changed runs differ before the change"
        _feed(engine, book, event)
    raise AssertionError("the simulation ended before the change")


def _chain(
    first: dict[str, Any] | None, rest: Iterator[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    if first is not None:
        yield first
    yield from rest


@dataclass(frozen=True)
class Market:
    start_ms: int
    results: dict[str, list[tuple[int, ModelResult]]]  # market -> (monitor time, its result)
    summary: dict[str, Any]


def _train(frame: pd.DataFrame, cutoff_ms: int, models_dir: Path, report_dir: Path) -> Any:
    """Train on the pre-change history: signals before the change whose label was known by then."""
    known = frame["label_resolved_ts"].astype("float64") <= cutoff_ms
    history = frame.loc[(frame["ts"] < cutoff_ms) & known]
    names, feature_set = registry_features("standard")
    data = from_frame(history, "standard", names, feature_set, "sim:pre-change")
    config = TrainConfig(
        target=TARGET,
        models_dir=models_dir,
        report_dir=report_dir,
        version="20260101T000000.000Z",
        trials=3,
        num_threads=1,
        allow=("constant",),  # a few engine features are constant on the simulator
    )
    return train_model(data, config)


def _served(frame: pd.DataFrame, models_dir: Path, monitored: list[str]) -> pd.DataFrame:
    """Score every signal as the stream does and bring it to the monitor's frame shape."""
    registry = ModelRegistry(
        models_dir, {"standard": STANDARD_NAMES, "genesis": GENESIS_NAMES}, 3600.0
    )
    scores = Scorer(registry).score_batch("standard", frame[list(STANDARD_NAMES)].to_numpy())
    served = frame.assign(**{f"p_{TARGET}": scores.calibrated[TARGET]})
    return monitor_frame(served, TARGET, monitored, model=scores.models[TARGET])


def run_market(seed: int, workdir: Path) -> Market:
    stable, changed = _replay_both(seed)
    start_ms = SimConfig(seed=seed).start_ms
    change_ms = start_ms + CHANGE_H * HOUR
    models_dir = workdir / "models"
    outcome = _train(stable, change_ms, models_dir, workdir / "card")
    deployed = deployed_models(models_dir, TARGET)
    references = {label: model.reference for label, model in deployed.items()}
    monitored = [n for model in deployed.values() for n in model.reference.features]
    results: dict[str, list[tuple[int, ModelResult]]] = {}
    for name, frame in (("stable", stable), ("changed", changed)):
        served = _served(frame, models_dir, monitored)
        results[name] = [
            (t, evaluate(served, references, t - LOOKBACK_H * HOUR, t, LOOKBACK_H * HOUR)[0])
            for t in range(change_ms + HOUR, start_ms + END_H * HOUR + 1, HOUR)
        ]
    extra = outcome.metadata.model_extra or {}
    summary = {
        "pr_auc": outcome.metadata.pr_auc,
        "roc_auc": extra.get("roc_auc"),
        "base_rate": outcome.metadata.base_rate,
        "expected_top_decile": extra.get("expected_top_decile_hit_rate"),
    }
    return Market(start_ms, results, summary)


def describe(market: Market) -> str:
    """One line per monitor run: the numbers docs/monitor.md quotes."""
    lines = [f"model {market.summary}"]
    for name, runs in market.results.items():
        for t, r in runs:
            m = r.period.metrics
            top = m.top_decile
            lines.append(
                f"{name:7s} T=+{(t - market.start_ms) / HOUR:4.1f}h resolved={m.resolved:5d} "
                f"hit={m.hit_rate or 0:.3f} p={m.mean_predicted or 0:.3f} "
                f"z={m.calibration_z or 0:+.1f} deff={m.design_effect or 0:.1f} "
                f"top={top.rate if top else float('nan'):.3f}(neff {top.n_effective if top else 0:.0f}) "
                f"score_psi={m.score_psi or 0:.2f} pr_auc@base={m.pr_auc_at_reference_rate or 0:.3f}"
                f"±{m.pr_auc_se or 0:.3f} -> {r.verdict.label} "
                f"{[x.rule for x in r.verdict.reasons]}"
            )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Market:
    return run_market(SEED, tmp_path_factory.mktemp("monitor-regime"))


def test_the_model_is_worth_monitoring(market: Market) -> None:
    summary = market.summary
    assert summary["pr_auc"] > 1.5 * summary["base_rate"], describe(market)


def test_stable_market_never_says_retrain(market: Market) -> None:
    # Simulator v2: a stable market still drifts in its inputs (attention shocks, a growing
    # wallet population), so feature PSI says `watch` in most windows; it must never say retrain.
    levels = [r.verdict.level for _, r in market.results["stable"]]
    assert levels and max(levels) < Level.RETRAIN, describe(market)


def test_changed_market_says_retrain_within_a_few_hours(market: Market) -> None:
    change_ms = market.start_ms + CHANGE_H * HOUR
    early = [
        r.verdict.level
        for t, r in market.results["changed"]
        if t <= change_ms + RETRAIN_WITHIN_H * HOUR
    ]
    assert Level.RETRAIN in early, describe(market)
