"""LightGBM -> ONNX export, the LightGBM/onnxruntime parity check, and the atomic model-pair deploy.

Usage from training::

    onnx_bytes = export_onnx(booster, feature_names)
    report = parity_check(booster, onnx_bytes, X_valid)   # report.ok must hold before deploying
    meta = ModelMetadata(..., onnx_sha256=sha256_hex(onnx_bytes))
    deploy_pair(onnx_bytes, meta, models_dir)
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import onnx
import onnxruntime as ort
from onnxmltools.convert import convert_lightgbm
from onnxmltools.convert.common.data_types import FloatTensorType

from training.metadata import ModelMetadata, metadata_path, metadata_to_json, onnx_path

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
PARITY_TOLERANCE = 1e-5
TMP_PREFIX = ".tmp-"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_onnx(booster: lightgbm.Booster, feature_names: Sequence[str]) -> bytes:
    """Convert a binary LightGBM booster to ONNX: input ``input`` float32 [None, F], output
    ``probabilities`` float32 [N, 2] (zipmap=False keeps it a plain tensor, not a list of dicts)."""
    names = list(feature_names)
    if booster.num_feature() != len(names):
        raise ValueError(f"booster has {booster.num_feature()} features, got {len(names)} names")
    objective = str(booster.params.get("objective", booster.dump_model().get("objective", "")))
    if not objective.startswith(("binary", "cross_entropy")):
        raise ValueError(f"only binary boosters are exported (objective {objective!r})")
    model = convert_lightgbm(
        booster,
        initial_types=[(INPUT_NAME, FloatTensorType([None, len(names)]))],
        zipmap=False,
    )
    entry = model.metadata_props.add()
    entry.key, entry.value = "feature_names", ",".join(names)
    _check_io(model, len(names))
    return bytes(model.SerializeToString())


def _check_io(model: onnx.ModelProto, n_features: int) -> None:
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if inputs != [INPUT_NAME] or OUTPUT_NAME not in outputs:
        raise ValueError(f"unexpected ONNX io: inputs {inputs}, outputs {outputs}")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 2 or dims[1].dim_value != n_features:
        raise ValueError(f"ONNX input shape does not have {n_features} columns")


def onnx_feature_count(onnx_bytes: bytes) -> int:
    model = onnx.load_from_string(onnx_bytes)
    return int(model.graph.input[0].type.tensor_type.shape.dim[1].dim_value)


# --- parity -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Worst |LightGBM - onnxruntime| probability difference over ``n`` rows of one probe kind."""

    kind: str
    n: int
    max_abs_diff: float
    share_above_tol: float


@dataclass(frozen=True, slots=True)
class ParityReport:
    """``ok`` only depends on ordinary (real) rows; the other probes are reported, not gated,
    because their differences are known converter limits (float32 thresholds, missing handling)."""

    tolerance: float
    probes: dict[str, ProbeResult]
    never_missing_features: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        real = self.probes["real"]
        return real.n > 0 and real.max_abs_diff <= self.tolerance

    def summary(self) -> str:
        lines = [f"parity ok={self.ok} tol={self.tolerance:g}"]
        for p in self.probes.values():
            lines.append(
                f"  {p.kind:<16} n={p.n:<6} max|diff|={p.max_abs_diff:.3g} "
                f"share>tol={p.share_above_tol:.3f}"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _onnx_probability(session: ort.InferenceSession, X: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # beyond float32 range becomes +-inf, as in serving
        X32 = X.astype(np.float32)
    out = session.run([OUTPUT_NAME], {INPUT_NAME: X32})[0]
    return np.asarray(out[:, 1], dtype=np.float64)


def _walk_splits(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        current = stack.pop()
        if "split_feature" in current:
            yield current
            stack.append(current["left_child"])
            stack.append(current["right_child"])


def split_nodes(booster: lightgbm.Booster) -> list[dict[str, Any]]:
    """Every internal node of every tree (numerical splits: feature, threshold, missing_type)."""
    trees = booster.dump_model()["tree_info"]
    return [n for t in trees for n in _walk_splits(t["tree_structure"])]


def _threshold_probes(
    base: np.ndarray, splits: list[dict[str, Any]], rng: np.random.Generator, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows with one feature set exactly on a split threshold, and the same one float64 ulp above
    (where a float32 cast of input and threshold can collapse the two sides of the split)."""
    numeric = [s for s in splits if isinstance(s["threshold"], float | int)]
    if not numeric or base.shape[0] == 0:
        empty = np.empty((0, base.shape[1]))
        return empty, empty
    chosen = rng.choice(len(numeric), size=min(limit, len(numeric)), replace=False)
    rows = base[rng.integers(0, base.shape[0], size=chosen.size)].copy()
    above = rows.copy()
    for r, idx in enumerate(chosen):
        feature, threshold = numeric[idx]["split_feature"], float(numeric[idx]["threshold"])
        rows[r, feature] = threshold
        above[r, feature] = np.nextafter(threshold, np.inf)
    return rows, above


def _never_missing(booster: lightgbm.Booster, splits: list[dict[str, Any]]) -> tuple[str, ...]:
    """Features all of whose splits have missing_type None: LightGBM maps NaN to 0 for them."""
    seen: dict[int, bool] = {}
    for s in splits:
        seen[s["split_feature"]] = (
            seen.get(s["split_feature"], True) and s["missing_type"] == "None"
        )
    names = booster.feature_name()
    return tuple(names[f] for f, never in sorted(seen.items()) if never)


def parity_check(
    booster: lightgbm.Booster,
    onnx_bytes: bytes,
    X_real: np.ndarray,
    *,
    n_sample: int = 2000,
    n_threshold_probes: int = 2000,
    tolerance: float = PARITY_TOLERANCE,
    seed: int = 0,
) -> ParityReport:
    """Compare LightGBM ``predict`` (raw probability) with onnxruntime on several probe kinds."""
    rng = np.random.default_rng(seed)
    X = np.asarray(X_real, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != booster.num_feature():
        raise ValueError(f"X_real must be [n, {booster.num_feature()}], got {X.shape}")
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    sample = X[rng.choice(X.shape[0], size=min(n_sample, X.shape[0]), replace=False)]
    with_nans = sample.copy()
    with_nans[rng.random(with_nans.shape) < 0.3] = np.nan
    all_missing = np.full((8, X.shape[1]), np.nan)
    splits = split_nodes(booster)
    on_threshold, above_threshold = _threshold_probes(sample, splits, rng, n_threshold_probes)
    probe_rows = {
        "real": sample,
        "nan_injected": with_nans,
        "all_missing": all_missing,
        "on_threshold": on_threshold,
        "above_threshold": above_threshold,
    }
    probes = {k: _compare(k, booster, session, rows, tolerance) for k, rows in probe_rows.items()}
    never_missing = _never_missing(booster, splits)
    return ParityReport(
        tolerance=tolerance,
        probes=probes,
        never_missing_features=never_missing,
        notes=_notes(probes, never_missing, tolerance),
    )


def _compare(
    kind: str,
    booster: lightgbm.Booster,
    session: ort.InferenceSession,
    rows: np.ndarray,
    tolerance: float,
) -> ProbeResult:
    if rows.shape[0] == 0:
        return ProbeResult(kind, 0, 0.0, 0.0)
    diff = np.abs(
        np.asarray(booster.predict(rows), dtype=np.float64) - _onnx_probability(session, rows)
    )
    return ProbeResult(kind, rows.shape[0], float(diff.max()), float(np.mean(diff > tolerance)))


def _notes(
    probes: dict[str, ProbeResult], never_missing: tuple[str, ...], tolerance: float
) -> tuple[str, ...]:
    notes = []
    for kind in ("on_threshold", "above_threshold"):
        if probes[kind].max_abs_diff > tolerance:
            notes.append(
                f"{kind}: {probes[kind].share_above_tol:.1%} of probes differ > {tolerance:g}; "
                "ONNX compares in float32 (input and thresholds) while LightGBM uses float64"
            )
    for kind in ("nan_injected", "all_missing"):
        if probes[kind].max_abs_diff > tolerance:
            notes.append(
                f"{kind}: missing values are routed differently by ONNX for "
                f"{len(never_missing)} never-missing-in-training feature(s): {list(never_missing)[:10]}"
            )
    return tuple(notes)


# --- deploy -------------------------------------------------------------------------------------


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def deploy_pair(onnx_bytes: bytes, metadata: ModelMetadata, models_dir: Path) -> tuple[Path, Path]:
    """Atomically publish ``{family}__{target}.onnx`` + ``_metadata.json`` in ``models_dir``.

    Both files are written and fsynced under ``.tmp-`` names in the same directory, then the ONNX
    is renamed first and the metadata last: until the metadata lands, its (old) ``onnx_sha256``
    does not match the new ONNX, so the registry never loads a half-deployed pair.
    """
    if metadata.onnx_sha256 != sha256_hex(onnx_bytes):
        raise ValueError("metadata.onnx_sha256 does not match the ONNX bytes")
    if onnx_feature_count(onnx_bytes) != metadata.feature_count:
        raise ValueError("ONNX input width differs from metadata.feature_count")
    models_dir.mkdir(parents=True, exist_ok=True)
    final_onnx = onnx_path(models_dir, metadata.family, metadata.target)
    final_meta = metadata_path(models_dir, metadata.family, metadata.target)
    token = uuid.uuid4().hex[:12]
    tmp_onnx = models_dir / f"{TMP_PREFIX}{token}-{final_onnx.name}"
    tmp_meta = models_dir / f"{TMP_PREFIX}{token}-{final_meta.name}"
    try:
        _write_synced(tmp_onnx, onnx_bytes)
        _write_synced(tmp_meta, metadata_to_json(metadata))
        os.replace(tmp_onnx, final_onnx)
        _fsync_dir(models_dir)
        os.replace(tmp_meta, final_meta)
        _fsync_dir(models_dir)
    finally:
        for leftover in (tmp_onnx, tmp_meta):
            leftover.unlink(missing_ok=True)
    return final_onnx, final_meta
