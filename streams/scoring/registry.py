"""Model registry: loads validated model pairs from ``models_dir`` and hot-reloads them.

A candidate pair is loaded only if its metadata parses, its feature names equal the runtime
feature registry's for its family, the ONNX file's sha256 matches ``onnx_sha256`` and an
onnxruntime session builds and runs. A rejected candidate is logged with its reason and the
previously loaded version of that (family, target) keeps serving. A pair whose metadata file
was removed is unloaded (the operator's way to fall back to the rule score).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
from streams.contracts.metadata import (
    METADATA_SUFFIX,
    ModelMetadata,
    metadata_from_json,
    onnx_path,
    pair_stem,
    stem_of_metadata_file,
)
from streams.contracts.types import INPUT_NAME, OUTPUT_NAME, TMP_PREFIX
from streams.scoring.fused import FusedModels, fuse
from streams.scoring.session import input_dtype, model_input, new_session, positive_class

if TYPE_CHECKING:
    from streams.settings import Settings

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (family, target)


class RejectedModel(Exception):
    """A candidate pair failed validation; the message is the logged reason."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    metadata: ModelMetadata
    session: ort.InferenceSession
    onnx_path: Path
    input_dtype: np.dtype

    @property
    def label(self) -> str:
        return self.metadata.label

    def raw_probability(self, X: np.ndarray) -> np.ndarray:
        """Positive-class probability for an [n, F] batch (cast to the model's input dtype,
        a no-op for float64 rows and a float64 model; one onnxruntime run)."""
        feed = model_input(X, self.input_dtype)
        return positive_class(self.session.run([OUTPUT_NAME], {INPUT_NAME: feed})[0])

    def onnx_bytes(self) -> bytes:
        """The ONNX file as loaded (refused if it changed on disk since: a reload is due)."""
        data = self.onnx_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.metadata.onnx_sha256:
            raise ValueError(f"{self.onnx_path.name} changed on disk since it was loaded")
        return data


@dataclass(frozen=True, slots=True)
class FamilyModels:
    """What serves one family: target -> model, and one session over all of them (None: the
    scorer runs each model's own session)."""

    models: dict[str, LoadedModel]
    fused: FusedModels | None = None


class ModelRegistry:
    def __init__(
        self,
        models_dir: Path,
        expected_features: Mapping[str, tuple[str, ...]],
        reload_interval_s: float,
        *,
        fused: bool = True,
    ) -> None:
        self.models_dir = Path(models_dir)
        self.fused = fused  # False: one session run per model (the scoring bench compares)
        self.expected_features = {f: tuple(names) for f, names in expected_features.items()}
        self.reload_interval_s = reload_interval_s
        self._models: dict[Key, LoadedModel] = {}
        self._families: dict[str, FamilyModels] = {}
        self._last_scan_s: float | None = None
        self.rejections: dict[str, str] = {}  # metadata file name -> reason, from the last scan
        self.scan()

    # --- reading ------------------------------------------------------------------------------

    def models_for(self, family: str) -> dict[str, LoadedModel]:
        """target -> loaded model of one family (a snapshot, safe to iterate while reloading)."""
        return dict(self.family(family).models)

    def family(self, family: str) -> FamilyModels:
        """The models serving ``family`` and their fused session, as of the last scan."""
        return self._families.get(family) or FamilyModels({})

    def versions(self) -> dict[str, dict[str, str]]:
        """family -> target -> ``model_id@version`` of what is serving (for metrics)."""
        out: dict[str, dict[str, str]] = {f: {} for f in self.expected_features}
        for (family, target), model in sorted(self._models.items()):
            out.setdefault(family, {})[target] = model.label
        return out

    def feature_count(self, family: str) -> int:
        return len(self.expected_features[family])

    # --- reloading ----------------------------------------------------------------------------

    def maybe_reload(self, now_s: float) -> bool:
        """Rescan when ``reload_interval_s`` elapsed since the last scan; True if it scanned."""
        if self._last_scan_s is not None and now_s - self._last_scan_s < self.reload_interval_s:
            return False
        self.scan(now_s)
        return True

    def scan(self, now_s: float | None = None) -> None:
        """Validate every pair on disk and swap in new versions (whole dict replaced at once)."""
        if now_s is not None:
            self._last_scan_s = now_s
        current = dict(self._models)
        present: set[Key] = set()
        rejections: dict[str, str] = {}
        for meta_file in self._metadata_files():
            try:
                key, loaded = self._candidate(meta_file, current)
            except RejectedModel as reason:
                rejections[meta_file.name] = str(reason)
                log.warning(
                    "model rejected: %s: %s (previous version keeps serving)",
                    meta_file.name,
                    reason,
                )
                named = _key_from_file_name(meta_file)
                if named is not None:
                    present.add(named)
                continue
            present.add(key)
            if loaded is not None:
                old = current.get(key)
                current[key] = loaded
                log.info(
                    "model loaded: %s/%s %s (was %s)",
                    key[0],
                    key[1],
                    loaded.label,
                    old.label if old else "none",
                )
        for key in [k for k in current if k not in present]:
            log.warning("model unloaded: %s/%s metadata file removed", *key)
            del current[key]
        self._families = {f: self._family_of(f, current) for f in self.expected_features}
        self._models = current  # old sessions are released once no batch holds them
        self.rejections = rejections

    def _family_of(self, family: str, current: Mapping[Key, LoadedModel]) -> FamilyModels:
        models = {t: m for (f, t), m in current.items() if f == family}
        serving = self._families.get(family)
        if (
            serving is not None
            and serving.models.keys() == models.keys()
            and all(serving.models[t] is m for t, m in models.items())
        ):
            return serving  # unchanged: keep its fused session
        width = len(self.expected_features[family])
        return FamilyModels(models, fuse(models, width) if self.fused else None)

    def _metadata_files(self) -> list[Path]:
        if not self.models_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.models_dir.glob(f"*{METADATA_SUFFIX}")
            if not p.name.startswith(TMP_PREFIX)
        )

    def _candidate(
        self, meta_file: Path, current: Mapping[Key, LoadedModel]
    ) -> tuple[Key, LoadedModel | None]:
        """Validate one pair; returns its key and a new LoadedModel, or None if unchanged."""
        metadata = _parse(meta_file)
        key = (metadata.family, metadata.target)
        if stem_of_metadata_file(meta_file) != pair_stem(*key):
            raise RejectedModel(f"file name does not match family/target {key}")
        self._check_features(metadata)
        onnx_file = onnx_path(self.models_dir, *key)
        try:
            onnx_bytes = onnx_file.read_bytes()
        except OSError as exc:
            raise RejectedModel(f"cannot read {onnx_file.name}: {exc}") from exc
        digest = hashlib.sha256(onnx_bytes).hexdigest()
        if digest != metadata.onnx_sha256:
            raise RejectedModel(
                f"onnx sha256 {digest[:12]}.. != metadata {metadata.onnx_sha256[:12]}.."
            )
        serving = current.get(key)
        if serving is not None and serving.metadata == metadata:
            return key, None
        session = _checked_session(onnx_bytes, metadata)
        return key, LoadedModel(metadata, session, onnx_file, input_dtype(session))

    def _check_features(self, metadata: ModelMetadata) -> None:
        expected = self.expected_features.get(metadata.family)
        if expected is None:
            raise RejectedModel(f"family {metadata.family!r} is not served by this worker")
        got = metadata.feature_names
        if len(got) != len(expected):
            raise RejectedModel(f"feature count {len(got)} != runtime registry's {len(expected)}")
        if got != expected:
            unknown = sorted(set(got) - set(expected))[:5]
            missing = sorted(set(expected) - set(got))[:5]
            first = next(i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b)
            raise RejectedModel(
                f"feature names differ from the runtime registry: unknown {unknown}, "
                f"missing {missing}, first mismatch at index {first}"
            )


def default_registry(settings: Settings) -> ModelRegistry:
    """The registry a worker serves from: both families, ``models_dir``, its reload interval."""
    return ModelRegistry(
        settings.models_dir,
        {"standard": tuple(STANDARD_NAMES), "genesis": tuple(GENESIS_NAMES)},
        settings.model_reload_interval_s,
    )


def _parse(meta_file: Path) -> ModelMetadata:
    try:
        return metadata_from_json(meta_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise RejectedModel(f"metadata invalid: {_first_line(exc)}") from exc


def _checked_session(onnx_bytes: bytes, metadata: ModelMetadata) -> ort.InferenceSession:
    try:
        session = new_session(onnx_bytes)
        probe = np.full((1, metadata.feature_count), np.nan, dtype=input_dtype(session))
        out = session.run([OUTPUT_NAME], {INPUT_NAME: probe})[0]
    except Exception as exc:  # onnxruntime raises several exception types for bad graphs
        raise RejectedModel(f"onnxruntime cannot run the model: {_first_line(exc)}") from exc
    if out.shape != (1, 2):
        raise RejectedModel(f"output {OUTPUT_NAME!r} has shape {out.shape}, expected (1, 2)")
    return session


def _key_from_file_name(meta_file: Path) -> Key | None:
    stem = stem_of_metadata_file(meta_file)
    if stem is None or "__" not in stem:
        return None
    family, target = stem.split("__", 1)
    return family, target


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
