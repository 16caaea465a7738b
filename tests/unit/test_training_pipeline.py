"""End to end on a synthetic frame: the deployed pair loads in the scorer's registry and scores
like LightGBM + Platt; the card is written; the next search starts from the stored params."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streams.contracts.metadata import read_metadata
from streams.devtools.synthetic.frames import SyntheticData, synthetic_frame
from streams.devtools.synthetic.models import calibrated_gap_bound
from streams.scoring import ModelRegistry, platt
from training.export import PARITY_TOLERANCE
from training.frame import TrainingFrame
from training.pipeline import TrainConfig, TrainOutcome, new_version, previous_params, train_model
from training.quality import QualityGateFailed
from training.search import SEARCH_SPACE, Slice, run_search
from training.sources import from_frame
from training.table import model_table

TARGET = "reach_2x_1h"


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return synthetic_frame(rows=2500, seed=2)


@pytest.fixture(scope="module")
def frame(data: SyntheticData) -> TrainingFrame:
    return from_frame(data.frame, "standard", data.feature_names, "fs-test", "synthetic")


@pytest.fixture(scope="module")
def trained(
    frame: TrainingFrame, data: SyntheticData, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrainOutcome, TrainConfig]:
    root = tmp_path_factory.mktemp("train")
    truth = root / "truth.jsonl"
    truth.write_text("\n".join(json.dumps(r) for r in data.truth), encoding="utf-8")
    config = TrainConfig(
        target=TARGET, models_dir=root / "models", report_dir=root / "report",
        version=new_version(), trials=3, truth_path=truth, num_threads=1,
    )  # fmt: skip
    return train_model(frame, config), config


@pytest.mark.slow  # shares one training run (Optuna + LightGBM)
def test_deployed_pair_loads_and_scores_like_lightgbm_plus_platt(
    trained: tuple[TrainOutcome, TrainConfig], frame: TrainingFrame
) -> None:
    outcome, config = trained
    registry = ModelRegistry(config.models_dir, {"standard": frame.feature_names}, 300.0)
    assert registry.rejections == {}
    model = registry.models_for("standard")[TARGET]
    assert model.metadata == read_metadata(outcome.metadata_path)
    x = frame.matrix()[-500:]
    raw_onnx = model.raw_probability(x)
    raw_lgb = np.asarray(outcome.booster.predict(x))
    c = model.metadata.calibration
    assert c.platt_input == "logit"  # the form training fits
    assert np.max(np.abs(raw_onnx - raw_lgb)) <= PARITY_TOLERANCE
    bound = calibrated_gap_bound(raw_lgb, c.platt_a, PARITY_TOLERANCE, c.platt_input)
    served = platt(raw_onnx, c.platt_a, c.platt_b, c.platt_input)
    assert np.all(np.abs(served - platt(raw_lgb, c.platt_a, c.platt_b, c.platt_input)) <= bound)


@pytest.mark.slow  # shares one training run (Optuna + LightGBM)
def test_metadata_records_splits_metrics_reference_and_search(
    trained: tuple[TrainOutcome, TrainConfig],
) -> None:
    meta = trained[0].metadata
    gains = trained[0].booster.feature_importance(importance_type="gain")
    top10 = {meta.feature_names[i] for i in np.argsort(-gains, kind="stable")[:10]}
    extra = meta.model_extra or {}
    assert meta.model_type == "lightgbm" and meta.feature_count == 12
    assert meta.pr_auc is not None and meta.base_rate is not None and meta.pr_auc > meta.base_rate
    assert set(meta.reference) == {"score", *top10}
    b = extra["splits"]["boundaries_ms"]
    assert b["start"] < b["valid_from"] < b["holdout_from"] < b["test_from"] <= b["end"]
    assert extra["parity"]["ok"] is True
    assert extra["search"]["trials"] == 3
    assert extra["params"]["num_threads"] == 1 and extra["params"]["num_leaves"] <= 63
    assert 0.0 <= extra["expected_top_decile_hit_rate"] <= 1.0
    assert extra["oracle"]["share"] > 0.0 and extra["oracle"]["truth_fields"] == ["quality"]
    report = extra["calibration_report"]
    assert report["ece_after"] >= 0.0 and report["platt_input"] == "logit"
    assert report["later_half_ece_logit"] >= 0.0 and report["later_half_ece_probability"] >= 0.0
    intervals = extra["uncertainty"]["intervals"]
    for name in ("pr_auc", "pr_auc_token_weighted", "top_decile_lift"):
        assert intervals[name]["low"] <= intervals[name]["value"] <= intervals[name]["high"]
    # ECE is biased upwards on a resample (noise adds to every bin's gap), so its percentile
    # interval may sit above the point estimate on a small slice; it is still an interval.
    assert 0.0 <= intervals["ece"]["low"] <= intervals["ece"]["high"] <= 1.0
    assert intervals["pr_auc"]["value"] == pytest.approx(meta.pr_auc)


@pytest.mark.slow  # shares one training run (Optuna + LightGBM)
def test_card_has_page_and_figures(trained: tuple[TrainOutcome, TrainConfig]) -> None:
    outcome, config = trained
    page = outcome.card_path.read_text(encoding="utf-8")
    for figure in ("curves", "reliability", "importance", "deciles"):
        png = config.report_dir / f"standard__{TARGET}_{figure}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.name in page
    assert "share of oracle" in page and "base rate" in page
    assert "tokens weighted equally" in page and "reliability curve" in page


@pytest.mark.slow  # shares one training run (Optuna + LightGBM)
def test_next_search_starts_from_the_deployed_params(
    trained: tuple[TrainOutcome, TrainConfig], frame: TrainingFrame
) -> None:
    _, config = trained
    stored = previous_params(config.models_dir, "standard", TARGET)
    assert stored is not None
    rows = frame.frame.dropna(subset=[TARGET])
    x, y = frame.matrix(rows), rows[TARGET].to_numpy()
    half = len(rows) // 2
    result = run_search(
        Slice(x[:half], y[:half]), Slice(x[half:], y[half:]), list(frame.feature_names),
        trials=1, previous_best=stored, num_threads=1,
    )  # fmt: skip
    assert result.warm_started
    assert result.search_params == {k: stored[k] for k in SEARCH_SPACE}


def test_gate_failure_deploys_nothing(frame: TrainingFrame, tmp_path: Path) -> None:
    broken = TrainingFrame(
        frame.family, frame.feature_names, frame.feature_set,
        frame.frame.assign(f02=0.0), frame.source,
    )  # fmt: skip
    config = TrainConfig(
        target=TARGET, models_dir=tmp_path / "models", report_dir=tmp_path / "r",
        version=new_version(), trials=1, num_threads=1,
    )  # fmt: skip
    with pytest.raises(QualityGateFailed) as failed:
        train_model(broken, config)
    assert [f.subject for f in failed.value.report.blocking()] == ["f02"]
    assert not (tmp_path / "models").exists()


@pytest.mark.slow  # shares one training run (Optuna + LightGBM)
def test_readme_table_row_is_read_from_the_metadata(
    trained: tuple[TrainOutcome, TrainConfig],
) -> None:
    outcome, config = trained
    header, separator, row = model_table(config.models_dir).splitlines()
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == header.count("|") - 1 == separator.count("|") - 1
    extra = outcome.metadata.model_extra or {}
    ece = extra["uncertainty"]["intervals"]["ece"]
    assert cells[0] == f"standard `{TARGET}`"
    assert cells[8].endswith(f"→ {ece['value']:.3f} [{ece['low']:.3f}, {ece['high']:.3f}]")
    assert (
        cells[10] == f"{extra['uncertainty']['tokens']} / {extra['uncertainty']['positive_tokens']}"
    )
    with pytest.raises(FileNotFoundError):
        model_table(config.models_dir / "absent")
