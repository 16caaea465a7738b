"""The model-pair metadata contract between training and the scorer (see docs/architecture.md).

A deployed model is two files in ``models/``: ``{family}__{target}.onnx`` and
``{family}__{target}_metadata.json``. This module owns the JSON half: a typed model that
validates itself, plus read/write helpers. The scorer refuses any pair whose metadata does not
parse here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streams.contracts.types import TARGETS, Family

METADATA_SUFFIX = "_metadata.json"
ONNX_SUFFIX = ".onnx"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


PlattInput = Literal["probability", "logit"]  # what Platt's line is fitted on


class PlattCalibration(BaseModel):
    """calibrated = 1 / (1 + exp(-(platt_a * x + platt_b))), x the raw model probability or,
    with ``platt_input: "logit"``, its logit clipped at 1e-7 (files without the field are read
    as probability, the form before it existed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["platt"] = "platt"
    platt_a: float = Field(allow_inf_nan=False)
    platt_b: float = Field(allow_inf_nan=False)
    platt_input: PlattInput = "probability"


class ReferenceDistribution(BaseModel):
    """Training-time distribution of one feature (or score) for the drift monitor.

    ``edges`` are increasing bin edges over the non-missing values; ``fractions`` has
    ``len(edges) + 1`` entries: (-inf, e0], (e0, e1], ..., (e_last, inf). ``missing_rate`` is
    the share of NaN values.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    edges: tuple[float, ...]
    fractions: tuple[float, ...]
    missing_rate: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _consistent(self) -> ReferenceDistribution:
        if len(self.fractions) != len(self.edges) + 1:
            raise ValueError("fractions must have len(edges) + 1 entries")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be strictly increasing")
        if any(f < 0 or not math.isfinite(f) for f in self.fractions):
            raise ValueError("fractions must be finite and >= 0")
        total = sum(self.fractions)
        if self.missing_rate < 1.0 and abs(total - 1.0) > 1e-6:
            raise ValueError(f"fractions must sum to 1 (got {total})")
        return self


def reference_from_values(values: np.ndarray, n_bins: int = 10) -> ReferenceDistribution:
    """Quantile-binned reference distribution of one column (NaN counted as missing)."""
    column = np.asarray(values, dtype=np.float64)
    present = column[~np.isnan(column)]
    missing_rate = 1.0 - present.size / column.size if column.size else 1.0
    if present.size == 0:
        return ReferenceDistribution(edges=(), fractions=(0.0,), missing_rate=1.0)
    quantiles = np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1])
    edges = np.unique(quantiles)
    # side="left": a value equal to an edge falls in the bin that edge closes, i.e. (e_i-1, e_i].
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=edges.size + 1)
    fractions = counts / present.size
    return ReferenceDistribution(
        edges=tuple(float(e) for e in edges),
        fractions=tuple(float(f) for f in fractions),
        missing_rate=float(missing_rate),
    )


class ModelMetadata(BaseModel):
    """The ``*_metadata.json`` of a deployed model. Unknown extra keys are kept (model card data)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    model_id: str = Field(min_length=1)
    model_type: str = Field(min_length=1)
    target: str
    family: Family
    version: str = Field(min_length=1, description="sortable, e.g. 20240101T120000Z")
    feature_set: str = Field(min_length=1)
    feature_names: tuple[str, ...]
    feature_count: int = Field(ge=1)
    calibration: PlattCalibration
    pr_auc: float | None = Field(default=None, ge=0.0, le=1.0)
    base_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    onnx_sha256: str
    reference: dict[str, ReferenceDistribution] = Field(default_factory=dict)

    @field_validator("target")
    @classmethod
    def _known_target(cls, target: str) -> str:
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")
        return target

    @field_validator("onnx_sha256")
    @classmethod
    def _hex_digest(cls, digest: str) -> str:
        if not _SHA256_HEX.match(digest):
            raise ValueError("onnx_sha256 must be 64 lowercase hex characters")
        return digest

    @model_validator(mode="after")
    def _feature_list_consistent(self) -> ModelMetadata:
        if len(self.feature_names) != self.feature_count:
            raise ValueError(
                f"feature_count {self.feature_count} != len(feature_names) {len(self.feature_names)}"
            )
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ValueError("feature_names contain duplicates")
        return self

    @property
    def label(self) -> str:
        """``model_id@version``: how the score event names the model that produced it."""
        return f"{self.model_id}@{self.version}"


def pair_stem(family: str, target: str) -> str:
    return f"{family}__{target}"


def onnx_path(models_dir: Path, family: str, target: str) -> Path:
    return models_dir / f"{pair_stem(family, target)}{ONNX_SUFFIX}"


def metadata_path(models_dir: Path, family: str, target: str) -> Path:
    return models_dir / f"{pair_stem(family, target)}{METADATA_SUFFIX}"


def stem_of_metadata_file(path: Path) -> str | None:
    """``standard__reach_2x_1h`` for ``standard__reach_2x_1h_metadata.json``, else None."""
    if not path.name.endswith(METADATA_SUFFIX):
        return None
    return path.name[: -len(METADATA_SUFFIX)]


def metadata_to_json(metadata: ModelMetadata) -> bytes:
    return metadata.model_dump_json(indent=2).encode("utf-8") + b"\n"


def metadata_from_json(data: bytes | str) -> ModelMetadata:
    """Parse and validate; raises ``pydantic.ValidationError`` (a ``ValueError``) when invalid."""
    return ModelMetadata.model_validate_json(data)


def read_metadata(path: Path) -> ModelMetadata:
    return metadata_from_json(path.read_bytes())


def write_metadata(metadata: ModelMetadata, path: Path) -> None:
    """Plain (non-atomic) write; deploys go through ``training.export.deploy_pair``."""
    path.write_bytes(metadata_to_json(metadata))
