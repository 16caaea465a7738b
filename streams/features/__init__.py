"""Point-in-time feature engine, outcome tracker and feature registry (pure: no Kafka, no clock)."""

from streams.contracts.features import (
    FEATURE_SET_VERSION,
    GENESIS_FEATURES,
    GENESIS_INDEX,
    GENESIS_NAMES,
    LABELS,
    PEAK_HORIZONS_MS,
    STANDARD_FEATURES,
    STANDARD_INDEX,
    STANDARD_NAMES,
    FeatureSpec,
    LabelSpec,
)
from streams.features.engine import (
    EngineConfig,
    EngineOutput,
    EngineStats,
    FeatureEngine,
    SignalRow,
)
from streams.features.state import EngineState, InMemoryStore, KVStore

__all__ = [
    "FEATURE_SET_VERSION",
    "GENESIS_FEATURES",
    "GENESIS_INDEX",
    "GENESIS_NAMES",
    "LABELS",
    "PEAK_HORIZONS_MS",
    "STANDARD_FEATURES",
    "STANDARD_INDEX",
    "STANDARD_NAMES",
    "EngineConfig",
    "EngineOutput",
    "EngineState",
    "EngineStats",
    "FeatureEngine",
    "FeatureSpec",
    "InMemoryStore",
    "KVStore",
    "LabelSpec",
    "SignalRow",
]
