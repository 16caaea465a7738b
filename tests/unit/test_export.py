"""ONNX export, parity check, atomic deploy and the metadata contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from pydantic import ValidationError

from streams.scoring.synthetic import SyntheticPair, synthetic_pair, synthetic_rows, train_booster
from training.export import (
    INPUT_NAME,
    OUTPUT_NAME,
    deploy_pair,
    export_onnx,
    parity_check,
    sha256_hex,
)
from training.metadata import (
    ModelMetadata,
    metadata_from_json,
    metadata_path,
    metadata_to_json,
    onnx_path,
    read_metadata,
    reference_from_values,
)

NAMES = tuple(f"feat_{i}" for i in range(10))


@pytest.fixture(scope="module")
def pair() -> SyntheticPair:
    return synthetic_pair(NAMES, seed=3)


def test_export_has_contract_io(pair: SyntheticPair) -> None:
    model = onnx.load_from_string(pair.onnx_bytes)
    (graph_input,) = model.graph.input
    assert graph_input.name == INPUT_NAME
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
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
        "on_threshold",
        "above_threshold",
    }
    assert all(p.n > 0 for p in report.probes.values())
    assert report.probes["real"].max_abs_diff <= 1e-5
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
