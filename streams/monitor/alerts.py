"""Alert events for non-ok verdicts and their publication on the ``alerts`` topic."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streams.monitor.evaluate import ModelResult
from streams.monitor.verdict import Level
from streams.settings import Settings
from streams.topics import ALERTS

log = logging.getLogger(__name__)
ALERT_SCHEMA_VERSION = 1


def alert_event(result: ModelResult, target: str, ts_ms: int) -> dict[str, Any]:
    """The JSON alert: schema_version, type, event_id, ts, model_id, version, verdict, reasons, metrics."""
    model_id, _, version = result.model.rpartition("@")
    metrics = asdict(result.period.metrics)
    metrics["ece_excess"] = result.period.metrics.ece_excess
    return {
        "schema_version": ALERT_SCHEMA_VERSION,
        "type": "alert",
        "event_id": f"alert-{uuid.uuid4().hex}",
        "ts": ts_ms,
        "model_id": model_id or result.model,
        "version": version,
        "target": target,
        "verdict": result.verdict.label,
        "reasons": [
            {"rule": r.rule, "level": r.level.label, "message": r.message}
            for r in result.verdict.reasons
        ],
        "window": {"start": result.period.start_ms, "end": result.period.end_ms},
        "metrics": metrics,
    }


def alerts_for(results: Sequence[ModelResult], target: str, ts_ms: int) -> list[dict[str, Any]]:
    return [alert_event(r, target, ts_ms) for r in results if r.verdict.level > Level.OK]


def encode_alert(alert: dict[str, Any]) -> bytes:
    # NaN (e.g. an empty top-decile rate) is not JSON: orjson writes it as null.
    return orjson.dumps(alert, option=orjson.OPT_SERIALIZE_NUMPY)


def publish_alerts(
    settings: Settings, alerts: Sequence[dict[str, Any]], timeout_s: float = 5.0
) -> tuple[int, str | None]:
    """Publish on ``alerts`` keyed by model id; (published, problem) - a dead broker is a problem, not a crash."""
    if not alerts:
        return 0, None
    producer = Producer(
        {**settings.kafka_client_config(), "message.timeout.ms": int(timeout_s * 1000)}
    )
    try:
        producer.list_topics(timeout=timeout_s)  # reachability check before queueing
    except KafkaException as exc:
        return 0, f"broker {settings.kafka_bootstrap} unreachable: {exc}"
    failures: list[str] = []

    def delivered(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(str(err))

    for alert in alerts:
        producer.produce(
            ALERTS, encode_alert(alert), key=str(alert["model_id"]), on_delivery=delivered
        )
    left = producer.flush(timeout_s)
    if left or failures:
        return len(alerts) - left - len(failures), "; ".join(failures) or f"{left} alert(s) unsent"
    return len(alerts), None
