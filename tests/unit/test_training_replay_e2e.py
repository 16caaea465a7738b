"""From a small simulated market through the offline replay to a deployed, loadable pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streams.contracts.features import STANDARD_NAMES
from streams.replay import replay
from streams.scoring import ModelRegistry
from streams.sim import SimConfig, write_run
from training.pipeline import TrainConfig, new_version, train_model
from training.sources import load_replay

TARGET = "reach_2x_1h"


@pytest.mark.slow
def test_simulated_replay_trains_a_pair_that_beats_the_base_rate(tmp_path: Path) -> None:
    run = write_run(SimConfig(seed=5, hours=14.0, launch_rate_per_day=3000.0), tmp_path / "sim")
    replay(run.events_path, tmp_path / "replay")
    data = load_replay(tmp_path / "replay", "standard")
    config = TrainConfig(
        target=TARGET, models_dir=tmp_path / "models", report_dir=tmp_path / "cards",
        version=new_version(), trials=2, num_threads=1, truth_path=run.truth_path,
        allow=("constant",),  # a small market: e.g. few graduations, so some rates never vary
    )  # fmt: skip
    outcome = train_model(data, config)
    flagged = {f.subject for f in outcome.gate.findings}
    assert {f.check for f in outcome.gate.findings} <= {"constant"}
    assert flagged <= set(STANDARD_NAMES)
    meta = outcome.metadata
    extra = meta.model_extra or {}
    assert meta.pr_auc is not None and meta.base_rate is not None
    assert meta.pr_auc > meta.base_rate  # features carry signal in the simulated market
    assert extra["oracle"]["truth_fields"] == ["quality", "quality_z", "attention", "rug_planned"]
    assert extra["rule_score_metrics"] is not None
    registry = ModelRegistry(config.models_dir, {"standard": STANDARD_NAMES}, 300.0)
    model = registry.models_for("standard")[TARGET]
    x = data.matrix()[-200:]
    served = model.raw_probability(x)
    assert np.max(np.abs(served - outcome.booster.predict(x))) <= 1e-5
