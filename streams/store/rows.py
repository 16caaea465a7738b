"""Kafka payloads -> validated events -> ClickHouse rows (pure; no I/O).

A payload that fails the schema or cannot be represented in the tables raises
:class:`~streams.events.DecodeError` (or ``ValueError``) so the sink can dead-letter it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from streams.events import TARGETS, DecodeError, Outcome, Signal
from streams.events.decode import parse_object, validate_output

SCHEMA_VERSION = 1
STAGE_RANK = {"1h": 1, "24h": 2}
# DateTime64(3) holds 1900-01-01 .. 2299-12-31; later event times cannot be stored.
MAX_TS_MS = 10_413_791_999_999

SIGNAL_COLUMNS: tuple[str, ...] = (
    "event_id", "source_event_id", "kind", "ts", "mint", "wallet", "creator", "price",
    "feature_set", "features",
    *(f"p_{t}" for t in TARGETS), *(f"raw_{t}" for t in TARGETS),
    "rule_score", "source", "models", "percentile_1h", "scored_at",
)  # fmt: skip
PEAK_COLUMNS: tuple[str, ...] = ("peak_10m", "peak_30m", "peak_1h", "peak_4h", "peak_24h", "min_1h")
OUTCOME_COLUMNS: tuple[str, ...] = (
    "signal_event_id", "event_id", "kind", "mint", "wallet", "creator", "signal_ts",
    "resolved_ts", "stage", "stage_rank", "price", *PEAK_COLUMNS, *TARGETS,
)  # fmt: skip


def _decode_object(payload: bytes, type_name: str) -> dict[str, Any]:
    obj = parse_object(payload)
    if obj.get("type") != type_name:
        raise DecodeError(
            "wrong_topic", f"expected a {type_name} event, got type {obj.get('type')!r}", "type"
        )
    validate_output(obj, type_name)
    return obj


def decode_signal(payload: bytes) -> Signal:
    return Signal(**_decode_object(payload, "signal"))


def decode_outcome(payload: bytes) -> Outcome:
    return Outcome(**_decode_object(payload, "outcome"))


def utc_ms(ms: int) -> datetime:
    """Epoch milliseconds -> aware UTC datetime; refuses what DateTime64(3) cannot hold."""
    if not 0 <= ms <= MAX_TS_MS:
        raise DecodeError("bad_value", f"timestamp {ms} ms is outside the storable range", "ts")
    return datetime.fromtimestamp(ms / 1000, UTC)


def _nan_for_none(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def signal_row(s: Signal) -> list[Any]:
    return [
        s.event_id, s.source_event_id, s.kind, utc_ms(s.ts), s.mint, s.wallet, s.creator,
        float(s.price), s.feature_set, _nan_for_none(s.features),
        *(s.scores.get(t) for t in TARGETS), *(s.raw_scores.get(t) for t in TARGETS),
        float(s.rule_score), s.source, dict(s.models), s.percentile_1h, utc_ms(s.scored_at),
    ]  # fmt: skip


def outcome_row(o: Outcome) -> list[Any]:
    return [
        o.signal_event_id, o.event_id, o.kind, o.mint, o.wallet, o.creator, utc_ms(o.signal_ts),
        utc_ms(o.ts), o.stage, STAGE_RANK[o.stage], float(o.price),
        o.peak_10m, o.peak_30m, o.peak_1h, o.peak_4h, o.peak_24h, o.min_1h,
        *(int(o.labels[t]) for t in TARGETS),
    ]  # fmt: skip


def newer_outcome(current: Outcome | None, candidate: Outcome) -> bool:
    """ReplacingMergeTree(stage_rank) semantics: a higher stage wins; a tie goes to the later write."""
    return current is None or STAGE_RANK[candidate.stage] >= STAGE_RANK[current.stage]
