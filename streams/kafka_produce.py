"""Producing with back-pressure: when librdkafka's local queue is full, serve deliveries and retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer


def produce_blocking(
    producer: Producer,
    topic: str,
    value: bytes,
    *,
    key: bytes | None,
    timestamp: int,
    on_delivery: Callable[[Any, Any], None] | None = None,
    poll_s: float = 0.05,
) -> None:
    """``producer.produce`` that waits (polling deliveries) instead of raising BufferError."""
    while True:
        try:
            if on_delivery is None:
                producer.produce(topic, value, key=key, timestamp=timestamp)
            else:
                producer.produce(
                    topic, value, key=key, timestamp=timestamp, on_delivery=on_delivery
                )
            return
        except BufferError:  # local queue full: let deliveries drain
            producer.poll(poll_s)
