"""ONNX export, parity check, atomic deploy and the metadata contract."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import lightgbm
import numpy as np
import onnx
import pytest
from pydantic import ValidationError

from streams.contracts.features import GENESIS_NAMES
from streams.contracts.metadata import (
    ModelMetadata,
    metadata_from_json,
    metadata_path,
    metadata_to_json,
    onnx_path,
    read_metadata,
    reference_from_values,
)
from streams.contracts.types import INPUT_NAME, OUTPUT_NAME
from streams.devtools.synthetic.models import (
    SyntheticPair,
    synthetic_pair,
    synthetic_rows,
    train_booster,
)
from streams.scoring import ModelRegistry, Scorer
from training.export import (
    LGBM_ZERO_THRESHOLD,
    deploy_pair,
    export_onnx,
    missing_goes_left,
    onnx_threshold,
    parity_check,
    sha256_hex,
    split_nodes,
)

NAMES = tuple(f"feat_{i}" for i in range(10))


@pytest.fixture(scope="module")
def pair() -> SyntheticPair:
    return synthetic_pair(NAMES, seed=3)


def test_export_has_contract_io(pair: SyntheticPair) -> None:
    model = onnx.load_from_string(pair.onnx_bytes)
    (graph_input,) = model.graph.input
    assert graph_input.name == INPUT_NAME
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    dims = graph_input.type.tensor_type.shape.dim
    assert not dims[0].dim_value and dims[1].dim_value == len(NAMES)
    outputs = {o.name: o for o in model.graph.output}
    probabilities = outputs[OUTPUT_NAME].type
    assert probabilities.HasField("tensor_type"), "ZipMap would make this a sequence of maps"
    assert probabilities.tensor_type.shape.dim[1].dim_value == 2


def test_export_rejects_wrong_feature_count(pair: SyntheticPair) -> None:
    with pytest.raises(ValueError, match="features"):
        export_onnx(pair.booster, NAMES[:-1])


def test_parity_passes_on_real_rows_and_reports_every_probe(pair: SyntheticPair) -> None:
    report = parity_check(pair.booster, pair.onnx_bytes, pair.X)
    assert report.ok
    assert set(report.probes) == {
        "real",
        "nan_injected",
        "all_missing",
        "below_threshold",
        "on_threshold",
        "above_threshold",
    }
    assert all(p.n > 0 for p in report.probes.values())
    # float64 input and thresholds, NaN routed as LightGBM does: every kind agrees, not only real
    assert all(p.max_abs_diff <= 1e-5 for p in report.probes.values())
    assert report.input_type == "tensor(double)"
    assert report.warnings == ()
    # synthetic_rows leaves the second half of the columns never missing
    assert set(report.never_missing_features) <= set(NAMES[len(NAMES) // 2 :])
    assert report.never_missing_features
    assert "parity ok=True" in report.summary()


def test_parity_fails_against_a_different_model(pair: SyntheticPair) -> None:
    other = train_booster(synthetic_rows(800, len(NAMES), seed=9), NAMES, seed=9, n_trees=5)
    report = parity_check(pair.booster, export_onnx(other, NAMES), pair.X)
    assert not report.ok
    assert report.probes["real"].share_above_tol > 0.5


def test_deploy_pair_writes_both_files_atomically(pair: SyntheticPair, tmp_path: Path) -> None:
    onnx_file, meta_file = deploy_pair(pair.onnx_bytes, pair.metadata, tmp_path)
    assert onnx_file == onnx_path(tmp_path, "standard", "reach_2x_1h")
    assert onnx_file.name == "standard__reach_2x_1h.onnx"
    assert meta_file == metadata_path(tmp_path, "standard", "reach_2x_1h")
    assert meta_file.name == "standard__reach_2x_1h_metadata.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([onnx_file.name, meta_file.name])
    assert sha256_hex(onnx_file.read_bytes()) == read_metadata(meta_file).onnx_sha256
    assert read_metadata(meta_file) == pair.metadata


def test_deploy_pair_refuses_mismatched_metadata(pair: SyntheticPair, tmp_path: Path) -> None:
    wrong_sha = pair.metadata.model_copy(update={"onnx_sha256": "0" * 64})
    with pytest.raises(ValueError, match="sha256"):
        deploy_pair(pair.onnx_bytes, wrong_sha, tmp_path)
    narrow = synthetic_pair(NAMES[:4], seed=1, n_rows=300, n_trees=3)
    with pytest.raises(ValueError, match="feature_count"):
        deploy_pair(
            narrow.onnx_bytes,
            pair.metadata.model_copy(update={"onnx_sha256": sha256_hex(narrow.onnx_bytes)}),
            tmp_path,
        )
    assert list(tmp_path.iterdir()) == []


def _raw_metadata(pair: SyntheticPair) -> dict[str, object]:
    return json.loads(metadata_to_json(pair.metadata))


def test_metadata_round_trips_and_keeps_extra_fields(pair: SyntheticPair) -> None:
    raw = _raw_metadata(pair)
    raw["model_card"] = {"trained_rows": 1500}
    parsed = metadata_from_json(json.dumps(raw))
    assert parsed.feature_names == NAMES
    assert parsed.label == "standard-reach_2x_1h-synthetic@20240101T000000Z"
    assert metadata_from_json(metadata_to_json(parsed)) == parsed
    assert parsed.model_dump()["model_card"] == {"trained_rows": 1500}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_count": 9}, "feature_count"),
        ({"target": "reach_10x"}, "unknown target"),
        ({"family": "other"}, "family"),
        ({"onnx_sha256": "abc"}, "onnx_sha256"),
        ({"calibration": {"method": "isotonic", "platt_a": 1, "platt_b": 0}}, "platt"),
        ({"feature_names": ["a"] * 10}, "duplicates"),
    ],
)
def test_metadata_rejects_invalid(
    pair: SyntheticPair, change: dict[str, object], message: str
) -> None:
    raw = _raw_metadata(pair) | change
    with pytest.raises(ValidationError, match=message):
        ModelMetadata.model_validate(raw)


def test_reference_distribution_from_values() -> None:
    values = np.concatenate([np.arange(100, dtype=np.float64), [np.nan] * 25])
    reference = reference_from_values(values, n_bins=4)
    assert reference.missing_rate == pytest.approx(0.2)
    assert sum(reference.fractions) == pytest.approx(1.0)
    assert len(reference.fractions) == len(reference.edges) + 1
    assert reference.fractions == pytest.approx((0.25, 0.25, 0.25, 0.25))
    empty = reference_from_values(np.full(5, np.nan))
    assert empty.missing_rate == 1.0


# --- float64 boundary cases (issue 7: genesis rows between float32(t) and t) ---------------------

BOUNDARY_NAMES = GENESIS_NAMES  # the Scorer needs a served family's feature list


def _boundary_booster(n_rows: int = 4000) -> tuple[lightgbm.Booster, np.ndarray]:
    """Column 0 steps by 1e-11 around 0.1 (float32 spacing there is ~7.5e-9, so ~700 distinct
    float64 values share one float32) and alone decides the label: every split threshold sits
    between float64 values that float32 cannot tell apart."""
    rng = np.random.default_rng(11)
    dense = 0.1 + np.arange(n_rows) * 1e-11
    X = np.column_stack([dense, rng.normal(size=(n_rows, len(BOUNDARY_NAMES) - 1))])
    y = ((np.arange(n_rows) // 250) % 2).astype(np.int32)  # alternating blocks of 250 rows
    params = {
        "objective": "binary", "num_leaves": 31, "min_data_in_leaf": 20, "learning_rate": 0.3,
        "verbose": -1, "seed": 0, "num_threads": 1, "deterministic": True,
    }  # fmt: skip
    booster = lightgbm.train(params, lightgbm.Dataset(X, y, feature_name=list(BOUNDARY_NAMES)), 10)
    return booster, X


def _float32_export(booster: lightgbm.Booster, n_features: int) -> bytes:
    """The export before the fix: onnxmltools' converter (float32 input and thresholds)."""
    from onnxmltools.convert import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    model = convert_lightgbm(
        booster, initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))], zipmap=False
    )
    return bytes(model.SerializeToString())


def test_rows_between_float32_and_float64_thresholds_keep_parity(tmp_path: Path) -> None:
    booster, X = _boundary_booster()
    before = parity_check(booster, _float32_export(booster, X.shape[1]), X)
    assert before.input_type == "tensor(float)"
    assert not before.ok  # the dataset reproduces the real-row failure of the float32 export
    assert before.probes["real"].max_abs_diff > 1e-2
    after = parity_check(booster, export_onnx(booster, BOUNDARY_NAMES), X)
    assert after.ok, after.summary()
    assert after.probes["real"].max_abs_diff <= 1e-5
    # the scorer feeds what parity verified: deployed, loaded and scored through the Scorer
    pair = synthetic_pair(BOUNDARY_NAMES, family="genesis", n_rows=300, n_trees=2)  # metadata
    onnx_bytes = export_onnx(booster, BOUNDARY_NAMES)
    meta = pair.metadata.model_copy(update={"onnx_sha256": sha256_hex(onnx_bytes)})
    deploy_pair(onnx_bytes, meta, tmp_path)
    registry = ModelRegistry(tmp_path, {"genesis": BOUNDARY_NAMES}, reload_interval_s=60.0)
    served = Scorer(registry).score_batch("genesis", X).raw["reach_2x_1h"]
    assert served is not None
    assert np.max(np.abs(served - booster.predict(X))) <= 1e-5


def test_values_in_lightgbm_zero_band_split_as_lightgbm_reads_them() -> None:
    """LightGBM reads |x| <= 1e-35 as 0.0 and puts thresholds at +-1e-35 around zero bins;
    the export moves those thresholds so tiny values go where LightGBM sends them."""
    rng = np.random.default_rng(5)
    sign = rng.choice([-1.0, 0.0, 1.0], size=3000)
    X = np.column_stack([sign, rng.normal(size=3000)])
    y = (sign == 0.0).astype(np.int32)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
    booster = lightgbm.train(params, lightgbm.Dataset(X, y), 5)
    thresholds = {abs(float(n["threshold"])) for n in split_nodes(booster)}
    assert LGBM_ZERO_THRESHOLD in thresholds
    tiny = np.array([-1e-34, -LGBM_ZERO_THRESHOLD, -1e-36, -0.0, 1e-36, LGBM_ZERO_THRESHOLD, 1e-34])
    rows = np.column_stack([tiny, np.zeros_like(tiny)])
    report = parity_check(booster, export_onnx(booster, ["sign", "noise"]), rows)
    assert report.ok, report.summary()


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (-1.0, -1.0),
        (0.5, 0.5),
        (-LGBM_ZERO_THRESHOLD, float(np.nextafter(-LGBM_ZERO_THRESHOLD, -np.inf))),
        (-1e-40, float(np.nextafter(-LGBM_ZERO_THRESHOLD, -np.inf))),
        (0.0, LGBM_ZERO_THRESHOLD),
        (LGBM_ZERO_THRESHOLD, LGBM_ZERO_THRESHOLD),
    ],
)
def test_onnx_threshold_moves_only_thresholds_inside_the_zero_band(
    threshold: float, expected: float
) -> None:
    assert onnx_threshold(threshold) == expected


def test_missing_routing_follows_lightgbm() -> None:
    assert missing_goes_left({"missing_type": "NaN", "default_left": True, "threshold": -3.0})
    assert not missing_goes_left({"missing_type": "NaN", "default_left": False, "threshold": 3.0})
    # missing_type None: NaN is read as 0.0, default_left does not matter
    assert missing_goes_left({"missing_type": "None", "default_left": False, "threshold": 0.5})
    assert not missing_goes_left({"missing_type": "None", "default_left": True, "threshold": -0.5})
    with pytest.raises(ValueError, match="zero_as_missing"):
        missing_goes_left({"missing_type": "Zero", "default_left": True, "threshold": 1.0})


def test_threshold_probes_warn_but_do_not_gate(pair: SyntheticPair) -> None:
    """Serving feeds real, NaN and all-missing rows: those gate; one-ulp threshold probes warn."""
    report = parity_check(pair.booster, export_onnx(pair.booster, NAMES), pair.X)
    probes = dict(report.probes)
    probes["above_threshold"] = replace(
        probes["above_threshold"], max_abs_diff=1e-3, share_above_tol=0.002
    )
    warned = replace(report, probes=probes)
    assert warned.ok
    assert warned.warnings and "above_threshold" in warned.warnings[0]
    assert "warning (not gating)" in warned.summary()
    probes["nan_injected"] = replace(probes["nan_injected"], max_abs_diff=1e-3)
    assert not replace(report, probes=probes).ok
