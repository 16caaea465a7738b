"""The corrupt-model-on-hot-reload row: the workers serve a good pair (v1); mid-run four bad
pairs replace it on disk one after the other, each left until every worker's
``alphastream_rejected_model_pairs`` gauge reads 1, then v1 is put back (gauge 0).
Every buy score must still carry v1.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import orjson

from streams.contracts.features import STANDARD_NAMES
from streams.contracts.metadata import ModelMetadata, metadata_path, metadata_to_json, onnx_path
from streams.contracts.types import TMP_PREFIX
from streams.devtools.faults.scenario import Scenario, _gauge
from streams.devtools.synthetic.models import SyntheticPair, synthetic_pair

GOOD_VERSION = "20250101T000000Z"
BAD_VERSION = "20260101T000000Z"
TARGET = "reach_2x_1h"
REJECTED = "alphastream_rejected_model_pairs"
CORRUPTIONS = ("truncated_onnx", "wrong_feature_order", "nan_platt", "sha_mismatch")


def bad_pair(kind: str, good: SyntheticPair, newer: SyntheticPair) -> tuple[bytes, bytes]:
    """The ONNX and metadata bytes of one corrupt (or mismatched) v2 pair."""
    meta = newer.metadata
    if kind == "truncated_onnx":  # metadata's sha256 is of the truncated bytes: onnxruntime fails
        onnx = newer.onnx_bytes[: len(newer.onnx_bytes) // 3]
        return onnx, _json(meta.model_copy(update={"onnx_sha256": _sha(onnx)}))
    if kind == "wrong_feature_order":
        names = list(meta.feature_names)
        names[0], names[1] = names[1], names[0]
        return newer.onnx_bytes, _json(meta.model_copy(update={"feature_names": tuple(names)}))
    if kind == "nan_platt":
        doc = orjson.loads(metadata_to_json(meta))
        doc["calibration"]["platt_a"] = "__nan__"
        return newer.onnx_bytes, orjson.dumps(doc).replace(b'"__nan__"', b"NaN")
    if kind == "sha_mismatch":  # a valid model whose metadata names another model's digest
        return newer.onnx_bytes, _json(
            meta.model_copy(update={"onnx_sha256": _sha(good.onnx_bytes)})
        )
    raise ValueError(f"unknown corruption {kind!r}")


def _json(meta: ModelMetadata) -> bytes:
    return metadata_to_json(meta)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def place(models_dir: Path, onnx: bytes, meta: bytes) -> None:
    """Both files renamed into place, the ONNX first (as a deploy does, without its checks)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    targets = (
        onnx_path(models_dir, "standard", TARGET),
        metadata_path(models_dir, "standard", TARGET),
    )
    for final, data in zip(targets, (onnx, meta), strict=True):
        tmp = models_dir / f"{TMP_PREFIX}fault-{final.name}"
        tmp.write_bytes(data)
        os.replace(tmp, final)


def setup_models(sc: Scenario) -> None:
    """A good pair in a models dir of the row's own, rescanned every second."""
    models = sc.work_dir / "models"
    update = {"models_dir": models, "model_reload_interval_s": 1.0}
    sc.settings = sc.settings.model_copy(update=update)
    good = synthetic_pair(STANDARD_NAMES, version=GOOD_VERSION, seed=1)
    newer = synthetic_pair(STANDARD_NAMES, version=BAD_VERSION, seed=2)
    place(models, good.onnx_bytes, metadata_to_json(good.metadata))
    sc.state["models"] = (good, newer)
    sc.cleanups.append(lambda: _count_versions(sc, good.metadata.label))


def _all_gauges(sc: Scenario, value: float, timeout_s: float) -> float | None:
    """Seconds until every live worker's rejected-pairs gauge reads ``value`` (None: never)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        ports = [p for p, w in zip(sc.metrics_ports, sc.procs, strict=True) if w.poll() is None]
        if ports and all(_gauge(port, REJECTED) == value for port in ports):
            return round(time.monotonic() - started, 3)
        time.sleep(0.1)
    return None


def corrupt_models(sc: Scenario) -> None:
    """Each corruption in turn: on disk until rejected by every worker, then v1 back."""
    good, newer = sc.state["models"]
    models = sc.settings.models_dir
    rejected: dict[str, float | None] = {}
    sc.fault_start_s = time.time()
    for kind in CORRUPTIONS:
        place(models, *bad_pair(kind, good, newer))
        rejected[kind] = _all_gauges(sc, 1.0, timeout_s=30)
        place(models, good.onnx_bytes, metadata_to_json(good.metadata))
        _all_gauges(sc, 0.0, timeout_s=30)
    sc.fault_end_s = time.time()
    sc.notes["rejected_after_s"] = rejected  # None: some worker never counted it


def _count_versions(sc: Scenario, label: str) -> None:
    scores = [s for s in sc.records.get(sc.topics.scores, []) if s["kind"] == "buy"]
    other = [s for s in scores if s.get("models", {}).get(TARGET) != label]
    during = [s for s in scores if sc.fault_start_s <= s["_kafka_ts_ms"] / 1000 <= sc.fault_end_s]
    sc.notes["models"] = {
        "serving": label,
        "buy_scores_other_version": len(other),
        "other_versions": sorted({str(s.get("models", {}).get(TARGET)) for s in other})[:5],
        "buy_scores_while_corrupting": len(during),
    }
