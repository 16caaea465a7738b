"""Scoring runtime: model registry with hot reload, onnxruntime scoring, Platt, rule score,
rolling percentile. See docs/scoring.md."""

from streams.scoring.calibration import platt
from streams.scoring.percentile import RollingPercentile
from streams.scoring.registry import LoadedModel, ModelRegistry, RejectedModel, default_registry
from streams.scoring.rules import RULES, RuleScorer, rule_score
from streams.scoring.scorer import BatchScores, Scorer

__all__ = [
    "RULES",
    "BatchScores",
    "LoadedModel",
    "ModelRegistry",
    "RejectedModel",
    "RollingPercentile",
    "RuleScorer",
    "Scorer",
    "default_registry",
    "platt",
    "rule_score",
]
