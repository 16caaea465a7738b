"""Data sources for training, each brought to the common frame shape (``training.frame``).

- replay: ``DIR/buys.parquet`` (standard family) / ``DIR/genesis.parquet`` (genesis family), the
  offline replay output with features named by feature name and the label columns.
- clickhouse: ``streams.store.training_frame(client, family, feature_names)``: the served feature
  snapshots joined with resolved outcomes, plus the served scores and ``rule_score``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import pandas as pd

from streams import store
from streams.contracts.features import FEATURE_SET_VERSION, GENESIS_NAMES, STANDARD_NAMES
from streams.contracts.types import FAMILIES, Family
from streams.settings import Settings
from training.frame import FrameError, TrainingFrame, normalize_frame

REPLAY_FILES = {"standard": "buys.parquet", "genesis": "genesis.parquet"}


def registry_features(family: str) -> tuple[tuple[str, ...], str]:
    """The family's ordered feature names and the feature-set version, from the engine registry."""
    _check_family(family)
    names = STANDARD_NAMES if family == "standard" else GENESIS_NAMES
    return tuple(names), FEATURE_SET_VERSION


def from_frame(
    raw: pd.DataFrame, family: str, feature_names: Sequence[str], feature_set: str, source: str
) -> TrainingFrame:
    _check_family(family)
    frame = normalize_frame(raw, feature_names)
    return TrainingFrame(family, tuple(feature_names), feature_set, frame, source)


def load_replay(
    replay_dir: Path,
    family: str,
    feature_names: Sequence[str] | None = None,
    feature_set: str | None = None,
) -> TrainingFrame:
    _check_family(family)
    path = Path(replay_dir) / REPLAY_FILES[family]
    if not path.is_file():
        raise FrameError(f"replay file not found: {path}")
    names, version = _names_and_version(family, feature_names, feature_set)
    return from_frame(pd.read_parquet(path), family, names, version, f"replay:{path}")


def load_clickhouse(
    settings: Settings,
    family: str,
    feature_names: Sequence[str] | None = None,
    feature_set: str | None = None,
) -> TrainingFrame:
    _check_family(family)
    names, version = _names_and_version(family, feature_names, feature_set)
    client = store.connect(settings.clickhouse_url())
    try:
        # Only rows served with this feature set: older vectors have another order or width.
        raw = store.training_frame(client, cast(Family, family), list(names), version)
    finally:
        client.close()
    return from_frame(raw, family, names, version, "clickhouse")


def _names_and_version(
    family: str, feature_names: Sequence[str] | None, feature_set: str | None
) -> tuple[tuple[str, ...], str]:
    if feature_names is not None and feature_set is not None:
        return tuple(feature_names), feature_set
    names, version = registry_features(family)
    return (tuple(feature_names) if feature_names is not None else names), (feature_set or version)


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise FrameError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
