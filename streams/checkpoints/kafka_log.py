"""The ``engine-checkpoints`` topic (see :mod:`streams.checkpoints.codec`): blocking calls, run
them in a thread.

Reading goes from the beginning of the topic to its end as the fetch responses report it
(partition EOF): tansu's ListOffsets(latest) can trail the real end by a batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as KafkaTP

from streams.checkpoints.codec import latest_values
from streams.settings import Settings


class CheckpointLog:
    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self._producer: Producer | None = None

    def read(self, timeout_s: float = 60.0) -> dict[str, bytes]:
        """The topic's compacted view: latest value per key (tombstoned keys dropped)."""
        conf = {
            **self.settings.kafka_reader_config("checkpoint-reader"),
            "fetch.message.max.bytes": 4 * 1024 * 1024,
        }
        consumer = Consumer(conf)
        try:
            meta = consumer.list_topics(self.topic, timeout=10)
            tmeta = meta.topics.get(self.topic)
            if tmeta is None or tmeta.error is not None:
                raise RuntimeError(f"checkpoint topic {self.topic!r} does not exist")
            parts = sorted(tmeta.partitions)
            consumer.assign([KafkaTP(self.topic, p, OFFSET_BEGINNING) for p in parts])
            pending = set(parts)
            records: list[tuple[bytes | None, bytes | None]] = []
            deadline = time.monotonic() + timeout_s
            while pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading {self.topic} did not reach its end")
                for m in consumer.consume(1000, 0.5):
                    err = m.error()
                    if err is None:
                        records.append((m.key(), m.value()))
                    elif err.code() == KafkaError._PARTITION_EOF:
                        pending.discard(int(m.partition() or 0))
                    else:
                        raise KafkaException(err)
            return latest_values(records)
        finally:
            consumer.close()

    def write(self, records: Sequence[tuple[str, bytes | None]], timeout_s: float = 60.0) -> None:
        """Produce ``records`` (``None`` value: tombstone) and wait until all are delivered."""
        if not records:
            return
        producer = self._producer_()
        errors: list[KafkaError] = []

        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                errors.append(err)

        for key, value in records:
            while True:
                try:
                    producer.produce(self.topic, value, key.encode(), on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.01)
        left = producer.flush(timeout_s)
        if left or errors:
            raise KafkaException(errors[0] if errors else f"{left} checkpoint records undelivered")

    def _producer_(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(
                {
                    **self.settings.kafka_producer_config(),
                    "acks": "all",
                    "max.in.flight.requests.per.connection": 1,  # chunks stay in order
                    "message.max.bytes": 1024 * 1024,
                    "linger.ms": 5,
                }
            )
        return self._producer

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(10)
            self._producer = None
