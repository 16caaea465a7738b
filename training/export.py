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

from streams.contracts.metadata import ModelMetadata, metadata_path, metadata_to_json, onnx_path
from streams.contracts.types import INPUT_NAME, OUTPUT_NAME, TMP_PREFIX
from streams.scoring.session import new_session, positive_probability

LABEL_NAME = "label"
PARITY_TOLERANCE = 1e-5


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_onnx(booster: lightgbm.Booster, feature_names: Sequence[str]) -> bytes:
    """Convert a binary LightGBM booster to ONNX: input ``input`` float64 [None, F], output
    ``probabilities`` float32 [N, 2] (column 1 the positive class) and ``label`` int64 [N].

    One ``ai.onnx.ml`` (opset 3) TreeEnsembleClassifier with double thresholds and leaf values
    (``*_as_tensor``): onnxruntime then compares float64 inputs with float64 thresholds, exactly
    as LightGBM does. onnxmltools' converter only takes float32 inputs and stores thresholds as
    float32, so a value between float32(t) and t would land on the other side of the split.
    """
    names = list(feature_names)
    if booster.num_feature() != len(names):
        raise ValueError(f"booster has {booster.num_feature()} features, got {len(names)} names")
    dump = booster.dump_model()
    objective = str(booster.params.get("objective", dump.get("objective", "")))
    if not objective.startswith(("binary", "cross_entropy")) or int(dump["num_class"]) != 1:
        raise ValueError(f"only binary boosters are exported (objective {objective!r})")
    ensemble = _TreeEnsemble()
    for tree_id, tree in enumerate(dump["tree_info"]):
        ensemble.add_tree(tree_id, tree["tree_structure"])
    model = ensemble.to_model(len(names))
    entry = model.metadata_props.add()
    entry.key, entry.value = "feature_names", ",".join(names)
    onnx.checker.check_model(model, full_check=True)
    _check_io(model, len(names))
    return bytes(model.SerializeToString())


# LightGBM reads |x| <= kZeroThreshold (1e-35f) in a dense row as 0.0 before any split.
LGBM_ZERO_THRESHOLD = float(np.float32(1e-35))
ML_OPSET = 3  # the first ai.onnx.ml opset with nodes_values_as_tensor / class_weights_as_tensor


def onnx_threshold(threshold: float) -> float:
    """The float64 threshold t' with (x <= t') == (lgbm(x) <= threshold) for every x, where
    lgbm(x) is 0.0 for |x| <= LGBM_ZERO_THRESHOLD and x otherwise (only thresholds inside that
    zero band move)."""
    if -LGBM_ZERO_THRESHOLD <= threshold < 0.0:
        return float(np.nextafter(-LGBM_ZERO_THRESHOLD, -np.inf))
    if 0.0 <= threshold < LGBM_ZERO_THRESHOLD:
        return LGBM_ZERO_THRESHOLD
    return threshold


def missing_goes_left(node: dict[str, Any]) -> bool:
    """Where LightGBM sends NaN: missing_type NaN -> default_left; None -> NaN is read as 0.0,
    so 0 <= threshold decides. (Zero-as-missing cannot be expressed by one ONNX node.)"""
    missing_type = node["missing_type"]
    if missing_type == "NaN":
        return bool(node["default_left"])
    if missing_type == "None":
        return float(node["threshold"]) >= 0.0
    raise ValueError(f"missing_type {missing_type!r} (zero_as_missing) is not exported")


class _TreeEnsemble:
    """The node/leaf attribute lists of a TreeEnsembleClassifier, filled tree by tree."""

    def __init__(self) -> None:
        self.nodes: dict[str, list[Any]] = {
            k: [] for k in ("treeids", "nodeids", "featureids", "modes", "values", "true", "false")
        }
        self.missing_left: list[int] = []
        self.leaves: dict[str, list[Any]] = {k: [] for k in ("treeids", "nodeids", "weights")}

    def add_tree(self, tree_id: int, root: dict[str, Any]) -> None:
        next_id = 1
        stack = [(root, 0)]
        while stack:
            node, node_id = stack.pop()
            if "split_feature" not in node:
                self._add_node(tree_id, node_id, 0, "LEAF", 0.0, 0, 0, False)
                self.leaves["treeids"].append(tree_id)
                self.leaves["nodeids"].append(node_id)
                self.leaves["weights"].append(float(node["leaf_value"]))
                continue
            if node["decision_type"] != "<=":
                raise ValueError(f"split {node['decision_type']!r} (categorical) is not exported")
            left, right = next_id, next_id + 1
            next_id += 2
            threshold = onnx_threshold(float(node["threshold"]))
            self._add_node(
                tree_id, node_id, int(node["split_feature"]), "BRANCH_LEQ", threshold,
                left, right, missing_goes_left(node),
            )  # fmt: skip
            stack.append((node["left_child"], left))
            stack.append((node["right_child"], right))

    def _add_node(
        self,
        tree_id: int,
        node_id: int,
        feature: int,
        mode: str,
        value: float,
        true_id: int,
        false_id: int,
        missing_true: bool,
    ) -> None:
        row = (tree_id, node_id, feature, mode, value, true_id, false_id)
        for key, item in zip(self.nodes, row, strict=True):
            self.nodes[key].append(item)
        self.missing_left.append(int(missing_true))

    def to_model(self, n_features: int) -> onnx.ModelProto:
        n, leaves = self.nodes, self.leaves
        double = onnx.TensorProto.DOUBLE
        ensemble = onnx.helper.make_node(
            "TreeEnsembleClassifier",
            [INPUT_NAME],
            [LABEL_NAME, OUTPUT_NAME],
            name="lightgbm_trees",
            domain="ai.onnx.ml",
            nodes_treeids=n["treeids"],
            nodes_nodeids=n["nodeids"],
            nodes_featureids=n["featureids"],
            nodes_modes=n["modes"],
            nodes_values_as_tensor=onnx.helper.make_tensor(
                "nodes_values", double, [len(n["values"])], n["values"]
            ),
            nodes_truenodeids=n["true"],
            nodes_falsenodeids=n["false"],
            nodes_missing_value_tracks_true=self.missing_left,
            class_treeids=leaves["treeids"],
            class_nodeids=leaves["nodeids"],
            class_ids=[0] * len(leaves["weights"]),
            class_weights_as_tensor=onnx.helper.make_tensor(
                "class_weights", double, [len(leaves["weights"])], leaves["weights"]
            ),
            classlabels_int64s=[0, 1],  # one score column + two labels: binary, [1 - p, p]
            post_transform="LOGISTIC",
        )
        graph = onnx.helper.make_graph(
            [ensemble],
            "lightgbm_binary",
            [onnx.helper.make_tensor_value_info(INPUT_NAME, double, [None, n_features])],
            [
                onnx.helper.make_tensor_value_info(LABEL_NAME, onnx.TensorProto.INT64, [None]),
                onnx.helper.make_tensor_value_info(OUTPUT_NAME, onnx.TensorProto.FLOAT, [None, 2]),
            ],
        )
        opsets = [
            onnx.helper.make_opsetid("", 17),
            onnx.helper.make_opsetid("ai.onnx.ml", ML_OPSET),
        ]
        model = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="alphastream")
        model.ir_version = 8  # what onnxruntime 1.2x+ reads; onnx's newest default may be ahead
        return model


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


# Row kinds that serving feeds; the export fails when any of them differs beyond the tolerance.
GATING_PROBES = frozenset({"real", "nan_injected", "all_missing"})


@dataclass(frozen=True, slots=True)
class ParityReport:
    """``ok`` needs real rows, and the row kinds serving sees (real, NaN-injected, all-missing)
    within ``tolerance``. Threshold probes (one float64 ulp around a split) are measured and
    reported; with float64 inputs and thresholds they agree almost always, but a rare probe can
    differ (seen: 1 of 519 by 1.2e-3), and served rows essentially never sit one ulp from a split,
    so they warn instead of blocking a deploy."""

    tolerance: float
    probes: dict[str, ProbeResult]
    never_missing_features: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    input_type: str = "tensor(double)"  # what onnxruntime was fed, as serving feeds it

    @property
    def ok(self) -> bool:
        return self.probes["real"].n > 0 and all(
            p.max_abs_diff <= self.tolerance
            for kind, p in self.probes.items()
            if kind in GATING_PROBES
        )

    @property
    def warnings(self) -> tuple[str, ...]:
        """Probe kinds outside the gate that exceeded the tolerance (shown, not blocking)."""
        return tuple(
            f"{kind}: max|diff| {p.max_abs_diff:.3g} on {p.share_above_tol:.1%} of {p.n} probes"
            for kind, p in self.probes.items()
            if kind not in GATING_PROBES and p.max_abs_diff > self.tolerance
        )

    def summary(self) -> str:
        lines = [f"parity ok={self.ok} tol={self.tolerance:g} input={self.input_type}"]
        for p in self.probes.values():
            lines.append(
                f"  {p.kind:<16} n={p.n:<6} max|diff|={p.max_abs_diff:.3g} "
                f"share>tol={p.share_above_tol:.3f}"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.extend(f"  warning (not gating): {w}" for w in self.warnings)
        return "\n".join(lines)


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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with one feature set exactly on a split threshold, one float64 ulp below and one above
    (a float32 model collapses these; the double export must split them as LightGBM does)."""
    numeric = [s for s in splits if isinstance(s["threshold"], float | int)]
    if not numeric or base.shape[0] == 0:
        empty = np.empty((0, base.shape[1]))
        return empty, empty, empty
    chosen = rng.choice(len(numeric), size=min(limit, len(numeric)), replace=False)
    rows = base[rng.integers(0, base.shape[0], size=chosen.size)].copy()
    below, above = rows.copy(), rows.copy()
    for r, idx in enumerate(chosen):
        feature, threshold = numeric[idx]["split_feature"], float(numeric[idx]["threshold"])
        rows[r, feature] = threshold
        below[r, feature] = np.nextafter(threshold, -np.inf)
        above[r, feature] = np.nextafter(threshold, np.inf)
    return below, rows, above


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
    """Compare LightGBM ``predict`` (raw probability, float64 rows) with onnxruntime fed as the
    scorer feeds it (``positive_probability``: the rows cast to the model's input dtype)."""
    rng = np.random.default_rng(seed)
    X = np.asarray(X_real, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != booster.num_feature():
        raise ValueError(f"X_real must be [n, {booster.num_feature()}], got {X.shape}")
    session = new_session(onnx_bytes)
    sample = X[rng.choice(X.shape[0], size=min(n_sample, X.shape[0]), replace=False)]
    with_nans = sample.copy()
    with_nans[rng.random(with_nans.shape) < 0.3] = np.nan
    all_missing = np.full((8, X.shape[1]), np.nan)
    splits = split_nodes(booster)
    below, on, above = _threshold_probes(sample, splits, rng, n_threshold_probes)
    probe_rows = {
        "real": sample,
        "nan_injected": with_nans,
        "all_missing": all_missing,
        "below_threshold": below,
        "on_threshold": on,
        "above_threshold": above,
    }
    probes = {k: _compare(k, booster, session, rows, tolerance) for k, rows in probe_rows.items()}
    never_missing = _never_missing(booster, splits)
    return ParityReport(
        tolerance=tolerance,
        probes=probes,
        never_missing_features=never_missing,
        notes=_notes(probes, never_missing, tolerance, session.get_inputs()[0].type),
        input_type=session.get_inputs()[0].type,
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
        np.asarray(booster.predict(rows), dtype=np.float64) - positive_probability(session, rows)
    )
    return ProbeResult(kind, rows.shape[0], float(diff.max()), float(np.mean(diff > tolerance)))


def _notes(
    probes: dict[str, ProbeResult],
    never_missing: tuple[str, ...],
    tolerance: float,
    input_type: str,
) -> tuple[str, ...]:
    notes = []
    if input_type != "tensor(double)":
        notes.append(
            f"input {input_type}: rows are cast before onnxruntime compares them with thresholds, "
            "while LightGBM compares float64 values with float64 thresholds"
        )
    if any(probes[k].max_abs_diff > tolerance for k in ("nan_injected", "all_missing")):
        notes.append(
            f"missing values routed differently; {len(never_missing)} never-missing-in-training "
            f"feature(s) (LightGBM reads NaN as 0 for them): {list(never_missing)[:10]}"
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
