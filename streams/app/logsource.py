"""Where the worker reads the market log from: Kafka's one-partition topic, or memory (tests).

The Kafka reader is group-less: the worker's position is its checkpoint's log offset, never a
committed group offset, so every worker reads the whole log at its own pace.
"""

from __future__ import annotations

from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTP

from streams.app.replica import LogRecord
from streams.contracts.log import HEADER_KIND, HEADER_SOURCE, HEADER_WRITTEN, KIND_EVENT, SourceRef
from streams.settings import Settings


class LogSource(Protocol):
    def read(self, max_records: int, timeout_s: float) -> list[LogRecord]: ...

    def end_offset(self) -> int | None: ...

    def close(self) -> None: ...


def to_record(m: Message) -> LogRecord:
    kind, src, written = KIND_EVENT, None, None
    for name, value in m.headers() or ():  # type: ignore[str-unpack]
        if not isinstance(value, bytes):
            continue
        if name == HEADER_KIND:
            kind = value
        elif name == HEADER_SOURCE:
            src = SourceRef.decode(value)
        elif name == HEADER_WRITTEN:
            written = int(value)
    _, ts = m.timestamp()
    return LogRecord(int(m.offset() or 0), kind, m.key(), m.value(), int(ts), src, written)


def reader_config(settings: Settings) -> dict[str, Any]:
    return {
        **settings.kafka_reader_config("log-reader"),
        "enable.partition.eof": False,
        "fetch.wait.max.ms": settings.log_fetch_wait_ms,
        "fetch.min.bytes": settings.log_fetch_min_bytes,
        "fetch.message.max.bytes": 4 * 1024 * 1024,
    }


class KafkaLogSource:
    def __init__(self, settings: Settings, topic: str, start: int) -> None:
        self.topic = topic
        self.consumer = Consumer(reader_config(settings))
        self._tp = KafkaTP(topic, 0, start if start > 0 else OFFSET_BEGINNING)
        self.consumer.assign([self._tp])

    def read(self, max_records: int, timeout_s: float) -> list[LogRecord]:
        """What is fetched already, up to ``max_records``; waits (up to ``timeout_s``) only when
        nothing is (``consume(n, t)`` alone would wait for ``n`` records or the timeout)."""
        consumer = self.consumer
        msgs = consumer.consume(max_records, 0)
        if not msgs and timeout_s > 0:
            first = consumer.poll(timeout_s)
            msgs = [] if first is None else [first, *consumer.consume(max_records - 1, 0)]
        out: list[LogRecord] = []
        for m in msgs:
            err = m.error()
            if err is None:
                out.append(to_record(m))
            elif err.code() != KafkaError._PARTITION_EOF:
                raise KafkaException(err)
        return out

    def end_offset(self) -> int | None:
        """The log's high-water mark as of the last fetch (no broker round trip)."""
        _, high = self.consumer.get_watermark_offsets(KafkaTP(self.topic, 0), cached=True)
        return int(high) if high is not None and high >= 0 else None

    def close(self) -> None:
        self.consumer.close()
