"""The market log read offline, from its start to its end now: ``alphastream log dump`` and the
log-order replay read the very records the workers applied."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTP

from streams.app.logsource import to_record
from streams.app.replica import LogRecord
from streams.contracts.log import KIND_EVENT
from streams.settings import Settings


def read_to_end(settings: Settings, topic: str, timeout_s: float = 120.0) -> Iterator[LogRecord]:
    """Every record of the log from its start to its end now (``alphastream log dump``, the
    offline replay of the very log the workers applied)."""
    consumer = Consumer(settings.kafka_reader_config("log-dump"))
    try:
        low, high = consumer.get_watermark_offsets(KafkaTP(topic, 0), timeout=10)
        if high <= low:
            return
        consumer.assign([KafkaTP(topic, 0, low)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                err = m.error()
                if err is None:
                    record = to_record(m)
                    yield record
                    if record.offset >= high - 1:
                        return
                elif err.code() == KafkaError._PARTITION_EOF:
                    return
                else:
                    raise KafkaException(err)
        raise TimeoutError(f"reading {topic} did not reach offset {high}")
    finally:
        consumer.close()


def dump_events(records: Iterable[LogRecord], out: Any) -> int:
    """Write the event records' values as JSONL in log order; returns how many."""
    n = 0
    for record in records:
        if record.kind == KIND_EVENT and record.value is not None:
            out.write(record.value.rstrip(b"\n") + b"\n")
            n += 1
    return n
