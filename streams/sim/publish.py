"""Publish simulated events to the input topics with confluent-kafka (keyed by mint, paced)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson
from confluent_kafka import Producer

from streams.events import INPUT_TYPES
from streams.kafka_produce import produce_blocking, warm_metadata

PRODUCER_DEFAULTS = {
    "linger.ms": "20",
    "batch.num.messages": "10000",
    "queue.buffering.max.messages": "500000",
}


class Publisher:
    """``send(event)`` produces to the event's topic; ``speed`` > 0 paces at that multiple of
    simulated time (sleeping when ahead), 0 means as fast as possible."""

    def __init__(self, client_config: Mapping[str, Any], speed: float = 0.0) -> None:
        self.producer = Producer({**PRODUCER_DEFAULTS, **client_config})
        self._warm = False
        self.speed = speed
        self.sent: Counter[str] = Counter()
        self.errors = 0
        self._t0_wall: float | None = None
        self._t0_sim = 0

    def _pace(self, ts: int) -> None:
        if self.speed <= 0:
            return
        if self._t0_wall is None:
            self._t0_wall, self._t0_sim = time.monotonic(), ts
            return
        ahead = (ts - self._t0_sim) / 1000.0 / self.speed - (time.monotonic() - self._t0_wall)
        if ahead > 0:
            self.producer.poll(0)
            time.sleep(ahead)

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self.errors += 1

    def send(self, event: dict[str, Any]) -> None:
        if not self._warm:
            warm_metadata(self.producer, [topic for _, topic in INPUT_TYPES.values()])
            self._warm = True
        self._pace(event["ts"])
        topic = INPUT_TYPES[event["type"]][1]
        value = orjson.dumps(event)
        produce_blocking(
            self.producer,
            topic,
            value,
            key=event["mint"].encode(),
            timestamp=event["ts"],
            on_delivery=self._on_delivery,
            poll_s=0.1,
        )
        self.sent[event["type"]] += 1
        if sum(self.sent.values()) % 1000 == 0:
            self.producer.poll(0)

    def flush(self, timeout_s: float = 60.0) -> int:
        """Wait for deliveries; returns the number still undelivered."""
        left: int = self.producer.flush(timeout_s)
        return left
