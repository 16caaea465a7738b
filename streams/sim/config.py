"""Simulator configuration: a frozen ``SimConfig`` and time-varying regime knobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

DEFAULT_START = "2026-01-01T00:00:00Z"
DEFAULT_LAUNCH_RATE = 20_000.0  # launches per simulated day

# Knobs a regime file may change mid-run, with their defaults.
KNOB_DEFAULTS: dict[str, float] = {
    "launch_rate_mult": 1.0,  # multiplies the launch rate
    "rugger_share": 0.30,  # share of launches by serial rugger creators
    "smart_edge": 1.0,  # how sharply smart wallets see hidden quality (0 = no edge)
    "retail_activity": 1.0,  # multiplies organic (retail) trading intensity
    "sniper_rate": 1.0,  # multiplies the number of sniper bots per launch
    "quality_shift": 0.0,  # added to every new token's hidden quality (market mood)
}


def parse_utc(text: str) -> datetime:
    """ISO-8601 to an aware UTC datetime (a naive value is taken as UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class RegimeChange:
    """From ``at_ms`` (UTC epoch ms) on, the knobs in ``values`` take these values."""

    at_ms: int
    values: tuple[tuple[str, float], ...]


def regime_from_json(items: list[Mapping[str, Any]]) -> tuple[RegimeChange, ...]:
    """``[{"at": ISO, "set": {knob: value}}, ...]`` -> sorted changes; unknown knobs are errors."""
    changes = []
    for item in items:
        values = dict(item["set"])
        unknown = sorted(set(values) - set(KNOB_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown regime knob(s) {unknown}; known: {sorted(KNOB_DEFAULTS)}")
        at_ms = to_ms(parse_utc(str(item["at"])))
        changes.append(RegimeChange(at_ms, tuple(sorted((k, float(v)) for k, v in values.items()))))
    return tuple(sorted(changes, key=lambda c: c.at_ms))


def load_regime(path: Path) -> tuple[RegimeChange, ...]:
    return regime_from_json(orjson.loads(path.read_bytes()))


@dataclass(frozen=True, slots=True)
class SimConfig:
    seed: int = 1
    start: datetime = field(default_factory=lambda: parse_utc(DEFAULT_START))
    hours: float = 1.0
    launch_rate_per_day: float = DEFAULT_LAUNCH_RATE
    fee: float = 0.01  # bonding-curve fee
    amm_fee: float = 0.0025  # post-migration pool fee
    regime: tuple[RegimeChange, ...] = ()

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if self.hours <= 0 or self.launch_rate_per_day <= 0:
            raise ValueError("hours and launch_rate_per_day must be positive")
        if not 0.0 <= self.fee < 0.5 or not 0.0 <= self.amm_fee < 0.5:
            raise ValueError("fees must be in [0, 0.5)")

    @property
    def start_ms(self) -> int:
        return to_ms(self.start)

    @property
    def end_ms(self) -> int:
        return self.start_ms + int(self.hours * 3_600_000)

    @property
    def scale(self) -> float:
        """Population scale relative to the default market size."""
        return self.launch_rate_per_day / DEFAULT_LAUNCH_RATE
