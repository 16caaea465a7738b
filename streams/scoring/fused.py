"""All loaded models of one family in one onnxruntime session: one run per batch, not one per target.

At a paced rate a batch is one or two rows, and the fixed cost of a run (the call, the feed and
output handling, caches gone cold since the last buy) is most of what scoring costs. The fused
graph holds every model's nodes side by side, under a prefix per target, reading the one input.
It is built when a family's models change and serves only if it returns exactly what the separate
sessions return on a probe batch; otherwise (or if a model cannot be fused) the scorer runs the
models one by one, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import onnxruntime as ort

from streams.contracts.types import INPUT_NAME, OUTPUT_NAME
from streams.scoring.session import model_input, new_session, positive_class

if TYPE_CHECKING:  # onnx is imported where models are fused: 0.7 s at start, for nothing without
    import onnx

log = logging.getLogger(__name__)

PROBE_ROWS = 64


class ModelLike(Protocol):
    """What fusing reads of a loaded model (``streams.scoring.registry.LoadedModel``)."""

    def onnx_bytes(self) -> bytes: ...

    @property
    def input_dtype(self) -> np.dtype: ...

    def raw_probability(self, X: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class FusedModels:
    """One session over a family's models; ``outputs[i]`` is the probability output of
    ``targets[i]``."""

    session: ort.InferenceSession
    targets: tuple[str, ...]
    outputs: tuple[str, ...]
    input_dtype: np.dtype

    def raw_probabilities(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """target -> positive-class probability of the [n, F] batch, from one run."""
        feed = model_input(X, self.input_dtype)
        results = self.session.run(list(self.outputs), {INPUT_NAME: feed})
        return {t: positive_class(out) for t, out in zip(self.targets, results, strict=True)}


def fuse(models: Mapping[str, ModelLike], n_features: int) -> FusedModels | None:
    """The fused session of ``models`` (target -> model), or None when there is nothing to gain
    (fewer than two models) or they cannot be fused exactly (the reason is logged)."""
    if len(models) < 2:
        return None
    if len({m.input_dtype for m in models.values()}) != 1:
        log.info("models not fused: their input types differ")
        return None
    import onnx  # here, not at the top: a worker with no models never pays for the import

    targets = tuple(sorted(models))
    try:
        graph = _fused_graph(
            {t: onnx.load_model_from_string(models[t].onnx_bytes()) for t in targets}
        )
        session = new_session(graph.SerializeToString())
    except Exception as exc:  # onnx and onnxruntime raise several types for graphs they refuse
        log.warning("models not fused (one run per model instead): %s", exc)
        return None
    fused = FusedModels(session, targets,
                        tuple(f"{t}__{OUTPUT_NAME}" for t in targets),
                        next(iter(models.values())).input_dtype)  # fmt: skip
    if not _matches(fused, models, n_features):
        log.warning("models not fused: the fused session differs from the separate ones")
        return None
    return fused


def _fused_graph(protos: Mapping[str, onnx.ModelProto]) -> onnx.ModelProto:
    from onnx import compose, helper

    first = next(iter(protos.values()))
    opsets = {(o.domain, o.version) for o in first.opset_import}
    nodes, initializers, outputs, value_info = [], [], [], []
    for target, proto in protos.items():
        if {(o.domain, o.version) for o in proto.opset_import} != opsets:
            raise ValueError("the models import different operator sets")
        if len(proto.graph.input) != 1 or proto.graph.input[0] != first.graph.input[0]:
            raise ValueError(f"{target}: the input is not the one input the others read")
        if proto.functions:
            raise ValueError(f"{target}: graphs with local functions are not fused")
        prefixed = compose.add_prefix(proto, prefix=f"{target}__", rename_inputs=False)
        nodes += prefixed.graph.node
        initializers += prefixed.graph.initializer
        value_info += prefixed.graph.value_info
        wanted = f"{target}__{OUTPUT_NAME}"
        found = [o for o in prefixed.graph.output if o.name == wanted]
        if not found:
            raise ValueError(f"{target}: no output {OUTPUT_NAME!r}")
        outputs += found
    graph = helper.make_graph(nodes, "fused", [first.graph.input[0]], outputs, initializers,
                              value_info=value_info)  # fmt: skip
    fused = helper.make_model(graph, opset_imports=list(first.opset_import))
    fused.ir_version = max(p.ir_version for p in protos.values())
    return fused


def _matches(fused: FusedModels, models: Mapping[str, ModelLike], n_features: int) -> bool:
    """Bit-equal to the separate sessions on rows of every magnitude, missing values included."""
    rng = np.random.default_rng(0)
    probe = (
        rng.normal(size=(PROBE_ROWS, n_features))
        * rng.choice([1.0, 10.0, 1e3], PROBE_ROWS)[:, None]
    )
    probe[rng.random(probe.shape) < 0.2] = np.nan
    probe[0] = np.nan
    together = fused.raw_probabilities(probe)
    return all(np.array_equal(together[t], models[t].raw_probability(probe), equal_nan=True)
               for t in fused.targets)  # fmt: skip
