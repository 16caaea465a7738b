"""Model references from the deployed metadata sidecars (``{family}__{target}_metadata.json``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from streams.contracts.metadata import ModelMetadata, read_metadata, stem_of_metadata_file
from streams.monitor.metrics import ModelReference
from streams.monitor.verdict import VETO_TARGETS
from training.evaluate import SCORE_KEY

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeployedModel:
    metadata: ModelMetadata
    reference: ModelReference
    path: Path


def reference_of(metadata: ModelMetadata) -> ModelReference:
    """Score and top-feature bins plus the test-slice expectations the training run recorded."""
    extras = metadata.model_extra or {}
    expected = extras.get("expected_top_decile_hit_rate")
    return ModelReference(
        score=metadata.reference.get(SCORE_KEY),
        features={k: v for k, v in metadata.reference.items() if k != SCORE_KEY},
        expected_top_decile_hit_rate=_number_or_none(expected),
        base_rate=metadata.base_rate,
        pr_auc=metadata.pr_auc,
        sample_size=_test_rows(extras.get("splits")),
        veto=metadata.target in VETO_TARGETS,
    )


def _test_rows(splits: object) -> int | None:
    """Rows of the test slice (``splits.rows.test``) the reference was measured on, if recorded."""
    rows = splits.get("rows") if isinstance(splits, dict) else None
    test = rows.get("test") if isinstance(rows, dict) else None
    return test if isinstance(test, int) and not isinstance(test, bool) and test > 0 else None


def _number_or_none(value: object) -> float | None:
    if isinstance(value, int | float) and value == value:  # NaN is not an expectation
        return float(value)
    return None


def deployed_models(models_dir: Path, target: str) -> dict[str, DeployedModel]:
    """``model_id@version`` -> deployed model, for every readable sidecar of ``target``."""
    found: dict[str, DeployedModel] = {}
    for path in sorted(Path(models_dir).glob("*_metadata.json")):
        stem = stem_of_metadata_file(path)
        if stem is None or not stem.endswith(f"__{target}"):
            continue
        try:
            metadata = read_metadata(path)
        except (OSError, ValueError) as exc:  # a half-written or foreign file is skipped, not fatal
            log.warning("skipping unreadable model metadata %s: %s", path, exc)
            continue
        found[metadata.label] = DeployedModel(metadata, reference_of(metadata), path)
    return found
