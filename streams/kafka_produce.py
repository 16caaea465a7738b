"""Producing with back-pressure: when librdkafka's local queue is full, serve deliveries and retry."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


def warm_metadata(producer: Producer, topics: Iterable[str], timeout_s: float = 10.0) -> None:
    """Fetch the topics' metadata before the first message.

    A fresh producer holds a topic's messages until its metadata arrives, and topics answer at
    different moments: without this, the first events of one topic reach the broker tens of ms
    after later events of another — out of event-time order across partitions, which the stream's
    re-sequencer can only absorb up to its settle time."""
    for topic in topics:
        producer.list_topics(topic, timeout=timeout_s)
