"""The live monitor run: read ClickHouse, evaluate per model version, retrain on request."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from streams import store
from streams.monitor.clickhouse import read_frame
from streams.monitor.evaluate import ModelResult, evaluate
from streams.monitor.metrics import MetricsConfig
from streams.monitor.references import DeployedModel, deployed_models
from streams.monitor.verdict import Thresholds
from streams.settings import Settings

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(text: str) -> int:
    """``90s``, ``30m``, ``1h``, ``2d`` -> milliseconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"bad duration {text!r}: use e.g. 30m, 1h, 2d")
    value = int(float(match.group(1)) * _UNIT_MS[match.group(2)])
    if value <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return value


def parse_utc_ms(text: str) -> int:
    """ISO-8601 with a zone (``2026-01-01T00:00:00Z`` or ``+00:00``) -> epoch ms."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add Z or +00:00")
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class MonitorRun:
    target: str
    since_ms: int
    until_ms: int
    window_ms: int
    deployed: Mapping[str, DeployedModel]
    results: list[ModelResult]


def feature_layout(deployed: Mapping[str, DeployedModel]) -> dict[str, tuple[dict[str, int], int]]:
    """model label -> (monitored feature -> index in the served vector, vector width)."""
    layout = {}
    for label, model in deployed.items():
        names = model.metadata.feature_names
        positions = {n: names.index(n) for n in model.reference.features if n in names}
        layout[label] = (positions, model.metadata.feature_count)
    return layout


def run_from_clickhouse(
    settings: Settings,
    target: str,
    since_ms: int,
    until_ms: int,
    window_ms: int,
    config: MetricsConfig | None = None,
    thresholds: Thresholds | None = None,
) -> MonitorRun:
    deployed = deployed_models(settings.models_dir, target)
    client = store.connect(settings.clickhouse_url())
    try:
        frame = read_frame(
            client, target, since_ms, until_ms, feature_layout(deployed), as_of_ms=until_ms
        )
    finally:
        client.close()
    references = {label: model.reference for label, model in deployed.items()}
    results = evaluate(frame, references, since_ms, until_ms, window_ms, config, thresholds)
    return MonitorRun(target, since_ms, until_ms, window_ms, deployed, results)


def retrain(
    settings: Settings, model: DeployedModel, trials: int, report_dir: Path
) -> tuple[str, Path]:
    """Train a successor of ``model`` on ClickHouse data and deploy it; (new label, card path)."""
    # Imported here: training pulls in LightGBM/Optuna, which a plain monitor run does not need.
    from training.pipeline import TrainConfig, new_version, train_model
    from training.sources import load_clickhouse

    data = load_clickhouse(settings, model.metadata.family)
    version = new_version()
    config = TrainConfig(
        target=model.metadata.target,
        models_dir=settings.models_dir,
        report_dir=report_dir / f"retrain-{version}",
        version=version,
        trials=trials,
    )
    outcome = train_model(data, config)
    return outcome.metadata.label, outcome.card_path
