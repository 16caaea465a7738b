"""Where the worker's outputs go: one confluent-kafka producer (librdkafka, C), or memory.

The hot loop hands a step's outputs over in one call and serves delivery callbacks between
steps (``poll``). Nothing is retried here: librdkafka retries until delivered
(``message.timeout.ms=0``), so a broker outage back-pressures the loop instead of dropping
outputs; ``acks=all`` and, on brokers that have it, idempotence keep each partition in mark
order, which the handover progress relies on. Keys are partitioned with murmur2 like the Java
client, so a mint's outputs land in the partition numbered like its shard.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError, Message, Producer

from streams.app.replica import Output
from streams.settings import Settings

log = logging.getLogger(__name__)

LatencyFn = Callable[[float], None]


class Sink(Protocol):
    def send(self, outputs: Sequence[Output]) -> None: ...

    def poll(self) -> None: ...

    def flush(self, timeout_s: float) -> int: ...

    def close(self) -> None: ...


class KafkaSink:
    def __init__(self, settings: Settings, on_latency: LatencyFn | None = None) -> None:
        conf: dict[str, Any] = {
            **settings.kafka_producer_config(),
            "acks": "all",
            "linger.ms": 0.5,
            "partitioner": "murmur2_random",  # Java / aiokafka compatible key hashing
            "queue.buffering.max.messages": 500_000,
            "message.timeout.ms": 0,  # retry until delivered: never drop an output
        }
        if not settings.kafka_idempotence:
            conf["max.in.flight.requests.per.connection"] = 1  # retries keep mark order
        self._producer = Producer(conf)
        self._on_latency = on_latency
        self.sent = 0
        self.failed = 0

    def send(self, outputs: Sequence[Output]) -> None:
        produce, poll = self._producer.produce, self._producer.poll
        for out in outputs:
            callback = self._delivered if out.produced_ms is not None else self._checked
            while True:
                try:
                    produce(out.topic, out.value, out.key, headers=out.headers,  # type: ignore[arg-type]
                            on_delivery=_with_produced(callback, out.produced_ms))  # fmt: skip
                    break
                except BufferError:  # local queue full: serve deliveries, then try again
                    poll(0.005)
        self.sent += len(outputs)

    def _checked(self, err: KafkaError | None, _msg: Message, _produced_ms: int | None) -> None:
        if err is not None:
            self.failed += 1
            log.error("output not delivered: %s", err)

    def _delivered(self, err: KafkaError | None, msg: Message, produced_ms: int | None) -> None:
        self._checked(err, msg, produced_ms)
        if err is None and produced_ms is not None and self._on_latency is not None:
            self._on_latency(max(0.0, time.time() - produced_ms / 1000.0))

    def poll(self) -> None:
        self._producer.poll(0)

    def flush(self, timeout_s: float) -> int:
        """Wait until everything sent is delivered; returns how many are still queued."""
        return int(self._producer.flush(timeout_s))

    def close(self) -> None:
        left = self.flush(10.0)
        if left:
            log.warning("%d outputs undelivered at shutdown (the next owner publishes them)", left)
            self._producer.purge()


def _with_produced(callback: Callable[[KafkaError | None, Message, int | None], None],
                   produced_ms: int | None) -> Callable[[KafkaError | None, Message], None]:  # fmt: skip
    return lambda err, msg: callback(err, msg, produced_ms)
