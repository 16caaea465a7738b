"""Batch scoring: every loaded model of a family on one batch, Platt-calibrated, plus the rule."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from streams.contracts.events import TARGETS
from streams.scoring.calibration import platt
from streams.scoring.registry import FamilyModels, ModelRegistry
from streams.scoring.rules import RuleScorer
from streams.scoring.session import model_input

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchScores:
    """Scores of one batch. ``raw`` / ``calibrated`` hold an [n] array per target, None where no
    model serves that target; ``models`` names the ``model_id@version`` that produced each."""

    raw: dict[str, np.ndarray | None]
    calibrated: dict[str, np.ndarray | None]
    rule: np.ndarray
    source: str
    models: dict[str, str]

    def __len__(self) -> int:
        return int(self.rule.shape[0])

    def row_calibrated(self, i: int) -> dict[str, float | None]:
        """target -> calibrated probability of row ``i`` (the score event's ``scores``)."""
        return {t: (None if a is None else float(a[i])) for t, a in self.calibrated.items()}

    def row_raw(self, i: int) -> dict[str, float | None]:
        return {t: (None if a is None else float(a[i])) for t, a in self.raw.items()}


class Scorer:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self._rules = {
            family: RuleScorer(family, names)
            for family, names in registry.expected_features.items()
        }

    def score_batch(self, family: str, X: np.ndarray) -> BatchScores:
        """Score ``X`` ([n, F] float64, registry column order): one onnxruntime run for the
        family's fused session, else one per model."""
        X = np.asarray(X, dtype=np.float64)
        width = self.registry.feature_count(family)
        if X.ndim != 2 or X.shape[1] != width:
            raise ValueError(f"{family} batch must be [n, {width}], got {X.shape}")
        rule = self._rules[family].score(X)
        serving = self.registry.family(family)
        raw: dict[str, np.ndarray | None] = dict.fromkeys(TARGETS)
        calibrated: dict[str, np.ndarray | None] = dict.fromkeys(TARGETS)
        labels: dict[str, str] = {}
        for target, probability in self._raw(serving, X).items():
            model = serving.models[target]
            calibration = model.metadata.calibration
            raw[target] = probability
            calibrated[target] = platt(
                probability, calibration.platt_a, calibration.platt_b, calibration.platt_input
            )
            labels[target] = model.label
        return BatchScores(
            raw=raw,
            calibrated=calibrated,
            rule=rule,
            source="model" if labels else "rule",
            models=labels,
        )

    def _raw(self, serving: FamilyModels, X: np.ndarray) -> dict[str, np.ndarray]:
        """target -> raw probability of every model that ran."""
        if serving.fused is not None:
            try:
                return serving.fused.raw_probabilities(X)
            except Exception:  # fall back to the separate sessions, which name the culprit
                log.exception("the fused session failed on a batch of %d rows", X.shape[0])
        feeds: dict[np.dtype, np.ndarray] = {}  # one cast per input dtype, shared by its models
        raw: dict[str, np.ndarray] = {}
        for target, model in serving.models.items():
            try:
                if model.input_dtype not in feeds:
                    feeds[model.input_dtype] = model_input(X, model.input_dtype)
                raw[target] = model.raw_probability(feeds[model.input_dtype])
            except Exception:  # a model that fails at run time must not stop the stream
                log.exception("model %s failed on a batch of %d rows", model.label, X.shape[0])
        return raw
