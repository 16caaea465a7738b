"""Feed and observe a worker through a real broker: used by the stream tests and ``bench e2e``.

``produce_events`` writes simulator events (dicts) to the input topics keyed by mint, with the
Kafka timestamp set to the wall-clock produce time (so latency can be measured end to end).
``collect`` reads output topics from the beginning with a group-less consumer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from streams.app.core import TopicNames
from streams.settings import Settings

_TOPIC_OF_TYPE = {"token_genesis": "genesis", "wallet_buy": "buys", "wallet_sell": "sells"}


def input_topic(topics: TopicNames, event_type: str) -> str:
    return str(getattr(topics, _TOPIC_OF_TYPE[event_type]))


def new_producer(settings: Settings) -> Producer:
    return Producer(
        {
            **settings.kafka_client_config(),
            "linger.ms": 5,
            "queue.buffering.max.messages": 1_000_000,
        }
    )


def produce_events(
    producer: Producer,
    topics: TopicNames,
    events: Iterable[Mapping[str, Any]],
    *,
    rate_per_s: float = 0.0,
    on_sent: Callable[[Mapping[str, Any], float], None] | None = None,
) -> int:
    """Produce events in order; ``rate_per_s`` > 0 paces them (wall clock). Returns the count."""
    n = 0
    t0 = time.perf_counter()
    for event in events:
        if rate_per_s > 0:
            ahead = t0 + n / rate_per_s - time.perf_counter()
            if ahead > 0:
                producer.poll(0)
                time.sleep(ahead)
        sent_s = time.time()
        _produce(
            producer,
            input_topic(topics, str(event["type"])),
            orjson.dumps(event),
            str(event["mint"]).encode(),
            sent_s,
        )
        if on_sent is not None:
            on_sent(event, sent_s)
        n += 1
        if n % 1000 == 0:
            producer.poll(0)
    producer.flush(60)
    return n


def produce_raw(producer: Producer, topic: str, payload: bytes, key: bytes | None) -> None:
    _produce(producer, topic, payload, key, time.time())
    producer.flush(30)


def _produce(
    producer: Producer, topic: str, value: bytes, key: bytes | None, sent_s: float
) -> None:
    while True:
        try:
            producer.produce(topic, value, key=key, timestamp=int(sent_s * 1000))
            return
        except BufferError:
            producer.poll(0.05)


def collect(
    settings: Settings,
    topics: Iterable[str],
    *,
    done: Callable[[dict[str, list[dict[str, Any]]]], bool],
    timeout_s: float = 120.0,
    with_timestamps: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Read ``topics`` from the beginning until ``done(records_by_topic)`` or the timeout.

    With ``with_timestamps`` each record gets ``_kafka_ts_ms`` (the broker/produce timestamp).
    """
    names = list(topics)
    consumer = Consumer(
        {**settings.kafka_client_config(), "group.id": f"collect-{time.time_ns()}", "enable.auto.commit": False,
         "enable.partition.eof": False}
    )  # fmt: skip
    try:
        meta = consumer.list_topics(timeout=10)
        consumer.assign(
            [TopicPartition(t, p, 0) for t in names for p in sorted(meta.topics[t].partitions)]
        )
        out: dict[str, list[dict[str, Any]]] = {t: [] for t in names}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.2):
                err = m.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(str(err))
                    continue
                record = orjson.loads(m.value() or b"null")
                if with_timestamps:
                    record["_kafka_ts_ms"] = m.timestamp()[1]
                out[str(m.topic())].append(record)
            if done(out):
                break
        return out
    finally:
        consumer.close()
