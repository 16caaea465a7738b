"""onnxruntime sessions as the scorer builds and feeds them (the registry, the fused family
session and training's parity check share these)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from streams.contracts.types import INPUT_NAME, OUTPUT_NAME

# onnxruntime input type -> the numpy dtype fed to it (float64: exported since the double
# TreeEnsemble; float32: pairs exported earlier by onnxmltools, still served)
INPUT_DTYPES: dict[str, np.dtype] = {
    "tensor(double)": np.dtype(np.float64),
    "tensor(float)": np.dtype(np.float32),
}


def input_dtype(session: ort.InferenceSession) -> np.dtype:
    declared = session.get_inputs()[0].type
    if declared not in INPUT_DTYPES:
        raise ValueError(
            f"input {INPUT_NAME!r} is {declared}, expected one of {list(INPUT_DTYPES)}"
        )
    return INPUT_DTYPES[declared]


def model_input(X: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Exactly what a model of input type ``dtype`` is fed (serving and the parity check)."""
    with np.errstate(over="ignore"):  # beyond float32 range becomes +-inf (same split side)
        return np.ascontiguousarray(X, dtype=dtype)


def positive_probability(session: ort.InferenceSession, X: np.ndarray) -> np.ndarray:
    """Positive-class probability of [n, F] rows: one onnxruntime run on ``model_input``."""
    out = session.run([OUTPUT_NAME], {INPUT_NAME: model_input(X, input_dtype(session))})[0]
    return positive_class(out)


def positive_class(probabilities: np.ndarray) -> np.ndarray:
    """The positive-class column of a ``probabilities`` output ([n, 2]), as float64."""
    return np.asarray(probabilities[:, 1], dtype=np.float64)


def new_session(onnx_bytes: bytes) -> ort.InferenceSession:
    """One single-threaded CPU session per model: workers scale by processes, not threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(
        onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"]
    )
