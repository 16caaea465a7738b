"""The fused family session: one onnxruntime run that returns exactly what the separate sessions
return, rebuilt on reload, and not used where it cannot be exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
from streams.contracts.metadata import PlattInput
from streams.devtools.synthetic.models import SyntheticPair, synthetic_pair
from streams.scoring import ModelRegistry, Scorer
from training.export import deploy_pair

EXPECTED = {"standard": STANDARD_NAMES, "genesis": GENESIS_NAMES}
TARGETS = ("reach_2x_1h", "is_dead_soon", "reach_3x_30m")


@pytest.fixture(scope="module")
def pairs() -> list[SyntheticPair]:
    # Platt on either input, in one family
    inputs: tuple[PlattInput, ...] = ("probability", "logit", "probability")
    return [
        synthetic_pair(STANDARD_NAMES, target=t, seed=i, n_rows=600, n_trees=8, platt_input=on)
        for i, (t, on) in enumerate(zip(TARGETS, inputs, strict=True))
    ]


def _registry(models_dir: Path) -> ModelRegistry:
    return ModelRegistry(models_dir, EXPECTED, reload_interval_s=0.0)


def _deployed(pairs: list[SyntheticPair], models_dir: Path) -> ModelRegistry:
    for pair in pairs:
        deploy_pair(pair.onnx_bytes, pair.metadata, models_dir)
    return _registry(models_dir)


def _rows(n: int, seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(STANDARD_NAMES))) * 5
    X[rng.random(X.shape) < 0.3] = np.nan
    return X


def test_a_family_of_models_is_served_by_one_session_equal_to_the_separate_ones(
    pairs: list[SyntheticPair], tmp_path: Path
) -> None:
    registry = _deployed(pairs, tmp_path)
    serving = registry.family("standard")
    assert serving.fused is not None and set(serving.fused.targets) == set(TARGETS)
    X = _rows(200)
    scores = Scorer(registry).score_batch("standard", X)
    assert scores.models == {p.metadata.target: p.metadata.label for p in pairs}
    for target, model in serving.models.items():
        np.testing.assert_array_equal(scores.raw[target], model.raw_probability(X))


def test_a_row_scores_the_same_alone_and_in_a_batch(
    pairs: list[SyntheticPair], tmp_path: Path
) -> None:
    scorer = Scorer(_deployed(pairs, tmp_path))
    X = _rows(40, seed=9)
    together = scorer.score_batch("standard", X)
    for i in range(len(X)):
        alone = scorer.score_batch("standard", X[i : i + 1])
        assert alone.row_calibrated(0) == together.row_calibrated(i)
        assert alone.row_raw(0) == together.row_raw(i)
        assert alone.rule[0] == together.rule[i]


def test_a_reload_rebuilds_the_fused_session_with_the_new_version(
    pairs: list[SyntheticPair], tmp_path: Path
) -> None:
    registry = _deployed(pairs, tmp_path)
    before = registry.family("standard").fused
    newer = synthetic_pair(STANDARD_NAMES, target=TARGETS[0], version="20250101T000000Z",
                           seed=11, n_rows=600, n_trees=8)  # fmt: skip
    deploy_pair(newer.onnx_bytes, newer.metadata, tmp_path)
    registry.scan()
    serving = registry.family("standard")
    assert serving.fused is not None and serving.fused is not before
    X = _rows(50)
    scores = Scorer(registry).score_batch("standard", X)
    assert scores.models[TARGETS[0]] == newer.metadata.label
    np.testing.assert_array_equal(
        scores.raw[TARGETS[0]],
        serving.models[TARGETS[0]].raw_probability(X),
    )
    registry.scan()  # nothing changed: the same fused session keeps serving
    assert registry.family("standard").fused is serving.fused


def test_one_model_is_not_fused_and_a_file_changed_since_loading_is_not_read(
    pairs: list[SyntheticPair], tmp_path: Path
) -> None:
    deploy_pair(pairs[0].onnx_bytes, pairs[0].metadata, tmp_path)
    registry = _registry(tmp_path)
    assert registry.family("standard").fused is None  # nothing to gain from one model
    model = registry.models_for("standard")[TARGETS[0]]
    model.onnx_path.write_bytes(pairs[1].onnx_bytes)  # replaced under the loaded model
    with pytest.raises(ValueError, match="changed on disk"):
        model.onnx_bytes()


def test_models_fed_different_input_types_run_one_by_one(
    pairs: list[SyntheticPair], tmp_path: Path
) -> None:
    from onnxmltools.convert import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    from training.export import sha256_hex

    old = pairs[1]  # exported before the double input: fed float32
    legacy = convert_lightgbm(old.booster, zipmap=False,
                              initial_types=[("input", FloatTensorType([None, len(STANDARD_NAMES)]))])  # fmt: skip
    legacy_bytes = legacy.SerializeToString()
    deploy_pair(
        legacy_bytes,
        old.metadata.model_copy(update={"onnx_sha256": sha256_hex(legacy_bytes)}),
        tmp_path,
    )
    deploy_pair(pairs[0].onnx_bytes, pairs[0].metadata, tmp_path)
    registry = _registry(tmp_path)
    assert registry.family("standard").fused is None
    X = _rows(30)
    scores = Scorer(registry).score_batch("standard", X)
    for target, model in registry.models_for("standard").items():
        np.testing.assert_array_equal(scores.raw[target], model.raw_probability(X))
