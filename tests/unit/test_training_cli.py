"""``alphastream train --source replay DIR``: deploys a loadable pair, or stops at the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import _register, app
from streams.contracts.features import FEATURE_SET_VERSION, STANDARD_NAMES
from streams.contracts.metadata import read_metadata
from streams.devtools.synthetic.frames import synthetic_frame
from streams.scoring import ModelRegistry


@pytest.fixture(scope="module")
def replay_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A replay-shaped directory: buys.parquet with the registry's feature names + a truth file."""
    root = tmp_path_factory.mktemp("replay")
    data = synthetic_frame(rows=1500, seed=4, feature_names=STANDARD_NAMES)
    data.frame.to_parquet(root / "buys.parquet")
    lines = (json.dumps({"kind": "token", **r}) for r in data.truth)
    (root / "truth.jsonl").write_text("\n".join(lines), encoding="utf-8")
    return root


def _train(replay_dir: Path, out: Path, *extra: str) -> tuple[int, str]:
    _register()
    args = [
        "train", "--source", "replay", str(replay_dir), "--target", "reach_2x_1h",
        "--trials", "1", "--threads", "1", "--models-dir", str(out / "models"),
        "--report-dir", str(out / "cards"), *extra,
    ]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.mark.slow  # trains LightGBM through the CLI
def test_train_from_replay_deploys_a_pair_the_registry_loads(
    replay_dir: Path, tmp_path: Path
) -> None:
    code, output = _train(replay_dir, tmp_path, "--truth", str(replay_dir / "truth.jsonl"))
    assert code == 0, output
    registry = ModelRegistry(tmp_path / "models", {"standard": STANDARD_NAMES}, 300.0)
    assert registry.rejections == {}
    model = registry.models_for("standard")["reach_2x_1h"]
    meta = read_metadata(tmp_path / "models" / "standard__reach_2x_1h_metadata.json")
    assert model.metadata == meta and meta.feature_set == FEATURE_SET_VERSION
    extra = meta.model_extra or {}
    assert extra["rule_score_metrics"]["pr_auc"] > 0.0  # the scorer's rule on the same rows
    assert extra["oracle"]["truth_fields"] == ["quality"]
    assert (tmp_path / "cards" / "index.html").is_file()
    assert "trained (test slice)" in output


@pytest.mark.slow  # trains LightGBM through the CLI
def test_gate_failure_exits_nonzero_with_the_table_and_allow_overrides(
    replay_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    frame = synthetic_frame(rows=1500, seed=4, feature_names=STANDARD_NAMES).frame
    frame.iloc[1, frame.columns.get_loc("event_id")] = frame["event_id"].iloc[0]
    frame.to_parquet(broken / "buys.parquet")
    code, output = _train(broken, tmp_path)
    assert code == 2
    assert "duplicate_ids" in output and "BLOCKS" in output
    assert not (tmp_path / "models").exists()
    code, output = _train(broken, tmp_path, "--allow", "duplicate_ids")
    assert code == 0, output
    assert (tmp_path / "models" / "standard__reach_2x_1h.onnx").is_file()


def test_replay_source_needs_a_directory(tmp_path: Path) -> None:
    _register()
    result = CliRunner().invoke(app, ["train", "--source", "replay", "--models-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "--source replay needs the replay directory" in result.output


def test_a_run_shorter_than_the_minimum_span_is_refused_with_the_minimum(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.mkdir()
    frame = synthetic_frame(rows=600, seed=4, feature_names=STANDARD_NAMES, span_hours=5.0).frame
    frame.to_parquet(short / "buys.parquet")
    code, output = _train(short, tmp_path)
    text = " ".join(output.split())
    assert code == 2
    assert "SplitError" in text and "needs at least 8 h" in text
    assert not (tmp_path / "models").exists()
