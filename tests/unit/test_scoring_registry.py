"""Model registry + scorer against real exported LightGBM models (deploy -> load -> score)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
from streams.contracts.metadata import (
    metadata_from_json,
    metadata_path,
    metadata_to_json,
    onnx_path,
)
from streams.devtools.synthetic.models import SyntheticPair, calibrated_gap_bound, synthetic_pair
from streams.events import TARGETS
from streams.scoring import ModelRegistry, Scorer, platt
from training.export import deploy_pair, sha256_hex

STANDARD = STANDARD_NAMES
GENESIS = GENESIS_NAMES
EXPECTED = {"standard": STANDARD, "genesis": GENESIS}
PARITY = 1e-5
TARGET = "reach_2x_1h"


@pytest.fixture(scope="module")
def v1() -> SyntheticPair:
    return synthetic_pair(STANDARD, version="20240101T000000Z", seed=1, platt_a=3.0, platt_b=-1.0)


@pytest.fixture(scope="module")
def v2() -> SyntheticPair:
    return synthetic_pair(STANDARD, version="20240201T000000Z", seed=2, platt_a=5.0, platt_b=-2.5)


def _registry(models_dir: Path) -> ModelRegistry:
    return ModelRegistry(models_dir, EXPECTED, reload_interval_s=60.0)


def _expected_calibrated(pair: SyntheticPair, X: np.ndarray) -> np.ndarray:
    c = pair.metadata.calibration
    return platt(np.asarray(pair.booster.predict(X)), c.platt_a, c.platt_b, c.platt_input)


def _assert_serves(registry: ModelRegistry, pair: SyntheticPair) -> None:
    X = pair.X[:300]
    scores = Scorer(registry).score_batch("standard", X)
    assert scores.models == {TARGET: pair.metadata.label}
    raw = scores.raw[TARGET]
    assert raw is not None
    assert np.max(np.abs(raw - pair.booster.predict(X))) <= PARITY
    c = pair.metadata.calibration
    bound = calibrated_gap_bound(raw, c.platt_a, PARITY, c.platt_input)
    calibrated = scores.calibrated[TARGET]
    assert calibrated is not None
    assert np.all(np.abs(calibrated - _expected_calibrated(pair, X)) <= bound)


def test_deployed_pair_scores_like_lightgbm_plus_platt(v1: SyntheticPair, tmp_path: Path) -> None:
    deploy_pair(v1.onnx_bytes, v1.metadata, tmp_path)
    registry = _registry(tmp_path)
    _assert_serves(registry, v1)
    scores = Scorer(registry).score_batch("standard", v1.X[:10])
    assert scores.source == "model"
    assert len(scores) == 10
    assert set(scores.calibrated) == set(TARGETS)
    assert all(scores.calibrated[t] is None for t in TARGETS if t != TARGET)
    assert scores.row_calibrated(0)[TARGET] == pytest.approx(float(scores.calibrated[TARGET][0]))  # type: ignore[index]
    assert registry.versions() == {"standard": {TARGET: v1.metadata.label}, "genesis": {}}


def test_no_model_falls_back_to_rule(tmp_path: Path) -> None:
    registry = _registry(tmp_path / "absent")
    X = np.zeros((4, len(STANDARD)))
    scores = Scorer(registry).score_batch("standard", X)
    assert scores.source == "rule"
    assert scores.models == {}
    assert all(scores.raw[t] is None and scores.calibrated[t] is None for t in TARGETS)
    assert scores.rule.shape == (4,)
    assert np.all((scores.rule >= 0) & (scores.rule <= 1))


def test_scorer_rejects_wrong_width(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch must be"):
        Scorer(_registry(tmp_path)).score_batch("standard", np.zeros((2, 3)))


def test_hot_reload_picks_up_new_version_after_interval(
    v1: SyntheticPair, v2: SyntheticPair, tmp_path: Path
) -> None:
    deploy_pair(v1.onnx_bytes, v1.metadata, tmp_path)
    registry = _registry(tmp_path)
    assert registry.maybe_reload(1000.0)  # the first call always scans
    session_v1 = registry.models_for("standard")[TARGET].session
    assert not registry.maybe_reload(1030.0)  # unchanged pair: same session kept
    assert registry.models_for("standard")[TARGET].session is session_v1

    deploy_pair(v2.onnx_bytes, v2.metadata, tmp_path)
    assert not registry.maybe_reload(1059.0)  # interval not elapsed: still v1
    _assert_serves(registry, v1)
    assert registry.maybe_reload(1060.0)
    _assert_serves(registry, v2)
    assert (
        registry.versions()["standard"][TARGET] == "standard-reach_2x_1h-synthetic@20240201T000000Z"
    )


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(".tmp-test-" + path.name)
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _meta_json(pair: SyntheticPair, **changes: object) -> bytes:
    raw = json.loads(metadata_to_json(pair.metadata)) | changes
    return json.dumps(raw).encode()


def _corrupt_onnx(models_dir: Path, pair: SyntheticPair) -> str:
    bad = b"not an onnx model" * 10
    _write(onnx_path(models_dir, "standard", TARGET), bad)
    _write(
        metadata_path(models_dir, "standard", TARGET), _meta_json(pair, onnx_sha256=sha256_hex(bad))
    )
    return "onnxruntime cannot run"


def _wrong_feature_names(models_dir: Path, pair: SyntheticPair) -> str:
    names = ["not_a_feature", *STANDARD[1:]]
    _write(metadata_path(models_dir, "standard", TARGET), _meta_json(pair, feature_names=names))
    return "feature names differ"


def _wrong_count(models_dir: Path, pair: SyntheticPair) -> str:
    names = [*STANDARD, "extra"]
    meta = _meta_json(pair, feature_names=names, feature_count=len(names))
    _write(metadata_path(models_dir, "standard", TARGET), meta)
    return f"feature count {len(STANDARD) + 1}"


def _half_written(models_dir: Path, pair: SyntheticPair) -> str:
    # deploy died after renaming the new ONNX and before the metadata: the sha cannot match
    other = synthetic_pair(STANDARD, seed=7, n_rows=300, n_trees=3)
    _write(onnx_path(models_dir, "standard", TARGET), other.onnx_bytes)
    return "sha256"


def _invalid_metadata(models_dir: Path, pair: SyntheticPair) -> str:
    _write(metadata_path(models_dir, "standard", TARGET), b'{"model_id": "x"')
    return "metadata invalid"


@pytest.mark.parametrize(
    "break_pair",
    [_corrupt_onnx, _wrong_feature_names, _wrong_count, _half_written, _invalid_metadata],
)
def test_rejected_candidate_keeps_previous_version(
    v1: SyntheticPair,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    break_pair: object,
) -> None:
    deploy_pair(v1.onnx_bytes, v1.metadata, tmp_path)
    registry = _registry(tmp_path)
    _assert_serves(registry, v1)
    reason = break_pair(tmp_path, v1)  # type: ignore[operator]
    with caplog.at_level(logging.WARNING, logger="streams.scoring.registry"):
        assert registry.maybe_reload(10_000.0)
    _assert_serves(registry, v1)
    rejection = registry.rejections["standard__reach_2x_1h_metadata.json"]
    assert reason in rejection
    assert any("model rejected" in r.message and reason in r.message for r in caplog.records)


def test_rejected_pair_never_loads_when_nothing_served_before(
    v1: SyntheticPair, tmp_path: Path
) -> None:
    deploy_pair(v1.onnx_bytes, v1.metadata, tmp_path)
    _half_written(tmp_path, v1)
    registry = _registry(tmp_path)
    assert registry.models_for("standard") == {}
    assert Scorer(registry).score_batch("standard", v1.X[:3]).source == "rule"


def test_removed_pair_is_unloaded_and_tmp_files_ignored(v1: SyntheticPair, tmp_path: Path) -> None:
    deploy_pair(v1.onnx_bytes, v1.metadata, tmp_path)
    (tmp_path / ".tmp-abc-standard__reach_3x_30m_metadata.json").write_bytes(b"{partial")
    registry = _registry(tmp_path)
    assert registry.rejections == {}
    assert list(registry.models_for("standard")) == [TARGET]
    metadata_path(tmp_path, "standard", TARGET).unlink()
    registry.scan()
    assert registry.models_for("standard") == {}


def test_family_not_served_is_rejected(tmp_path: Path) -> None:
    pair = synthetic_pair(GENESIS, family="genesis", target="is_dead_soon", n_rows=400, n_trees=3)
    deploy_pair(pair.onnx_bytes, pair.metadata, tmp_path)
    registry = ModelRegistry(tmp_path, {"standard": STANDARD}, reload_interval_s=1.0)
    assert "not served" in registry.rejections["genesis__is_dead_soon_metadata.json"]
    assert registry.versions() == {"standard": {}}


def test_several_models_each_score_their_target(v1: SyntheticPair, tmp_path: Path) -> None:
    dead = synthetic_pair(STANDARD, target="is_dead_soon", seed=5, n_rows=600, n_trees=5)
    deploy_pair(v1.onnx_bytes, v1.metadata, tmp_path)
    deploy_pair(dead.onnx_bytes, dead.metadata, tmp_path)
    scores = Scorer(_registry(tmp_path)).score_batch("standard", v1.X[:50])
    assert set(scores.models) == {TARGET, "is_dead_soon"}
    dead_scores = scores.calibrated["is_dead_soon"]
    assert dead_scores is not None
    assert np.max(np.abs(dead_scores - _expected_calibrated(dead, v1.X[:50]))) <= PARITY


def test_values_beyond_float32_range_score_without_warnings(
    v1: SyntheticPair, tmp_path: Path
) -> None:
    deploy_pair(v1.onnx_bytes, v1.metadata, tmp_path)
    X = v1.X[:20].copy()
    X[:, 0] = 1e300
    X[:, 1] = -np.inf
    scores = Scorer(_registry(tmp_path)).score_batch("standard", X)  # warnings are errors here
    calibrated = scores.calibrated[TARGET]
    assert calibrated is not None
    assert np.all((calibrated >= 0) & (calibrated <= 1))
    assert np.all((scores.rule > 0) & (scores.rule < 1))


def test_pair_exported_before_the_double_input_still_serves(
    v1: SyntheticPair, tmp_path: Path
) -> None:
    """Pairs deployed by the float32 onnxmltools export keep serving: fed float32, as then."""
    from onnxmltools.convert import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    legacy = convert_lightgbm(
        v1.booster, initial_types=[("input", FloatTensorType([None, len(STANDARD)]))], zipmap=False
    ).SerializeToString()
    meta = v1.metadata.model_copy(update={"onnx_sha256": sha256_hex(legacy)})
    deploy_pair(legacy, meta, tmp_path)
    model = _registry(tmp_path).models_for("standard")[TARGET]
    assert model.input_dtype == np.float32
    X = v1.X[:300]
    served = Scorer(_registry(tmp_path)).score_batch("standard", X).raw[TARGET]
    assert served is not None
    expected = model.session.run(["probabilities"], {"input": X.astype(np.float32)})[0][:, 1]
    np.testing.assert_array_equal(served, expected)


def test_new_exports_are_fed_float64(v1: SyntheticPair, tmp_path: Path) -> None:
    deploy_pair(v1.onnx_bytes, v1.metadata, tmp_path)
    assert _registry(tmp_path).models_for("standard")[TARGET].input_dtype == np.float64


def test_logit_input_pair_scores_with_platt_on_the_logit(tmp_path: Path) -> None:
    pair = synthetic_pair(STANDARD, seed=3, platt_a=1.2, platt_b=-0.4, platt_input="logit")
    deploy_pair(pair.onnx_bytes, pair.metadata, tmp_path)
    registry = _registry(tmp_path)
    _assert_serves(registry, pair)
    raw = np.asarray(pair.booster.predict(pair.X[:5]))
    expected = 1.0 / (1.0 + np.exp(-(1.2 * np.log(raw / (1.0 - raw)) - 0.4)))
    got = Scorer(registry).score_batch("standard", pair.X[:5]).calibrated[TARGET]
    assert got is not None
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_metadata_without_platt_input_reads_as_probability(v1: SyntheticPair) -> None:
    doc = json.loads(metadata_to_json(v1.metadata))
    doc["calibration"].pop("platt_input")
    old_file = metadata_from_json(json.dumps(doc).encode())
    assert old_file.calibration.platt_input == "probability"
